"""Where converted and quantized files are written: checked first, then built under a temporary
name beside the destination and renamed only when complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from conversion.errors import ConversionError, OutputExistsError


def check_destination(dst: Path, force: bool) -> None:
    if dst.exists() and not force:
        raise OutputExistsError(f"“{dst}” already exists.")
    if not dst.parent.is_dir():
        raise ConversionError(f"The output folder “{dst.parent}” does not exist.")


def partial_file(dst: Path) -> Path:
    """A new empty ``.NAME.*.partial`` in the destination's folder (so the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent)
    os.close(fd)
    return Path(name)
