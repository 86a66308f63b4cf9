"""Data files shipped with the app (icons, styles); installed as ``desktop.resources``."""
