"""The PySide6 (Qt Widgets) user interface. The only package that imports Qt."""
