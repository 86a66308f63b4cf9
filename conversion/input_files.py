"""Opening the files of a checkpoint we were given: regular files only, of bounded size.

A checkpoint folder is input from anywhere (a download, a USB stick, a shared folder). A named
pipe called ``model.safetensors`` would block a plain ``open()`` forever, a device such as
``/dev/zero`` behind a symlink would read forever, and a 10 GB ``config.json`` would fill the
memory. So every file is opened without blocking, checked with ``fstat`` on the descriptor
actually opened (no window between a check and the open), and refused at once unless it is a
regular file; symlinks are followed (the Hugging Face cache is made of them) and their target
must be a regular file too. Text files (JSON, templates, tokenizers) have a size limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from conversion.errors import CheckpointError, NotARegularFileError

MAX_JSON_BYTES = 256 * 1024 * 1024  # tokenizer.json of the largest vocabularies: ~35 MB
MAX_CONFIG_BYTES = 16 * 1024 * 1024  # config.json: a few kB (some carry label maps)
# Every file the converter (or gguf.SpecialVocab) may read ends like one of these.
READ_SUFFIXES = (
    ".json",
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".model",
    ".jinja",
    ".txt",
)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: Path, mode: int) -> NotARegularFileError:
    return NotARegularFileError(f"“{path.name}” is {_kind(mode)}, not a file Huacaya can read.")


def check_regular(path: Path) -> None:
    """Refuse ``path`` unless it (or its symlink's final target) is a regular file."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks to the end
    except FileNotFoundError:
        if path.is_symlink():
            raise NotARegularFileError(
                f"“{path.name}” is a link to “{os.readlink(path)}”, which does not exist."
            ) from None
        raise
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode)


def check_folder(folder: Path) -> None:
    """Refuse a checkpoint folder holding something other than a regular file under a name the
    converter reads (this folder and its immediate subfolders, as sentence-transformers use)."""
    subfolders = [d for d in folder.iterdir() if _is_dir(d)]
    for entry in [*folder.iterdir(), *(p for d in subfolders for p in d.iterdir())]:
        if entry.name.endswith(READ_SUFFIXES) and not _is_dir(entry):
            check_regular(entry)


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; never blocks on a pipe."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        check_regular(path)  # a dangling link gets its own message
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of the regular file ``path``, refused when it is larger than ``limit``."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise CheckpointError(
                f"“{path.name}” is {size:,} bytes, far more than such a file ever holds "
                f"(at most {limit:,}).",
                "Replace it with the file from the model's original repository.",
            )
        return handle.read(limit + 1)
