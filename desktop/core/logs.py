"""Logging to a file in the user log folder, so a user can attach it to a bug report."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from desktop.core import paths

LOG_FILE = "huacaya.log"


def setup(console_level: int | None = logging.WARNING) -> None:
    """Log everything from INFO up to a rotating file; warnings also to stderr if asked."""
    root = logging.getLogger()
    if getattr(root, "_huacaya_configured", False):
        return
    root.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_dir() / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        root.addHandler(handler)
    except OSError:
        pass  # a read-only home must not stop the app; the console handler still works
    if console_level is not None and sys.stderr is not None:  # windowed apps have no stderr
        console = logging.StreamHandler()
        console.setLevel(console_level)
        # llama.cpp's own lines go to the file only: its errors reach the user inside ours.
        console.addFilter(lambda record: not record.name.startswith("llama.cpp"))
        console.setFormatter(logging.Formatter("huacaya: %(levelname)s: %(message)s"))
        root.addHandler(console)
    # llama.cpp's own log is chatty at INFO; keep its warnings and errors only.
    logging.getLogger("llama.cpp").setLevel(logging.WARNING)
    root._huacaya_configured = True  # type: ignore[attr-defined]
