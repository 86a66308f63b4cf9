"""The Qt-free core of Huacaya: everything the window, the terminal and the local API share.

``chat/`` (engine, session, one answer), ``history/`` (conversations), ``models/`` (the library),
``hub/`` (the Hugging Face Hub), ``jobs/`` (bringing models in), ``documents/`` (collections and
retrieval), and at the top the app-wide pieces: settings, paths, hardware, logs, secrets.
Nothing in this package may import PySide6 (``tests/core/test_boundaries.py`` enforces it).
"""
