"""A stand-in for the system's opener (``xdg-open``) on a PATH of its own: it records what it was
asked to open and exits with the status a test chooses (3: xdg-open's "no application")."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def system_opener(folder: Path, exit_status: int) -> Path:
    """A folder holding an ``xdg-open`` that adds its argument as a line of ``opened.txt`` next
    to it and exits with ``exit_status``; put the folder on PATH."""
    bin_dir = folder / f"opener-{exit_status}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "xdg-open"
    record = bin_dir / "opened.txt"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\nexit {exit_status}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def first_on_path(bin_dir: Path) -> str:
    """PATH with ``bin_dir`` first (the rest stays: other programs are still found)."""
    return os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])


def opened(bin_dir: Path) -> str:
    """The last path the stand-in opener was given ("" when none)."""
    every = opened_all(bin_dir)
    return every[-1] if every else ""


def opened_all(bin_dir: Path) -> list[str]:
    """Every path the stand-in opener was given, in order."""
    record = bin_dir / "opened.txt"
    return record.read_text().splitlines() if record.exists() else []
