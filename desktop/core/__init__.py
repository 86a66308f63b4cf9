"""The Qt-free core of Huacaya: engine, model library, settings and paths.

Nothing in this package may import PySide6 (``tests/core/test_boundaries.py`` enforces it).
"""
