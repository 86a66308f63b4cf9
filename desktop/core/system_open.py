"""Opening a file or a folder in the application the system has for it, and knowing whether one
did.

Qt's ``QDesktopServices.openUrl`` reports success on Linux as soon as ``xdg-open`` has started,
even when ``xdg-open`` then finds no application and exits with an error (a computer without a
desktop environment, or no default set for the file's type): the person clicks and nothing
happens. So the system's opener is run here and its exit status read: ``xdg-open`` on Linux and
the BSDs, ``open`` on macOS, the shell's association on Windows (``os.startfile``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

WAIT_S = 10.0  # an opener still running after this has opened the file (in the foreground)


def _opener() -> str | None:
    return shutil.which("open" if sys.platform == "darwin" else "xdg-open")


def open_in_system(path: Path, wait_s: float = WAIT_S) -> str | None:
    """Open ``path`` with the system's application for it. Returns None when it was opened,
    else why it was not, as a sentence for the person."""
    what = "folder" if path.is_dir() else "file"
    if not path.exists():
        return f"The {what} is no longer there: it was moved or deleted."
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]  # (Windows only)
        except OSError:
            return f"Windows has no application set to open this {what}."
        return None
    opener = _opener()
    if opener is None:
        return f"Nothing on this computer opens a {what} for other programs (xdg-open is missing)."
    try:
        process = subprocess.Popen(
            [opener, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # it outlives the app if the viewer does
        )
    except OSError as exc:
        return f"The system's opener could not be started: {exc.strerror or exc}."
    try:
        status = process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        return None  # the application it started is still open in the foreground
    if status != 0:
        return f"No application on this computer is set to open this {what}."
    return None
