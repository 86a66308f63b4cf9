"""Opening the files of a checkpoint we were given: regular files only, of bounded size.

A checkpoint folder is input from anywhere (a download, a USB stick, a shared folder). A named
pipe called ``model.safetensors`` would block a plain ``open()`` forever, a device such as
``/dev/zero`` behind a symlink would read forever, and a 10 GB ``config.json`` would fill the
memory. So every file is opened without blocking, checked with ``fstat`` on the descriptor
actually opened (no window between a check and the open), and refused at once unless it is a
regular file; symlinks are followed (the Hugging Face cache is made of them) and their target
must be a regular file too. Text files (JSON, templates, tokenizers) have a size limit.

Files of the kernel's pseudo file systems (``/proc``, ``/sys``) are regular files whose size
says 0 while reading them may never end (``/proc/kmsg`` waits for the next kernel message), so
they are refused too, and every read stops at the size ``fstat`` reported. A symlink that loops
is one clear error. The app's other readers of input from anywhere (documents, training data,
seed tasks, GGUF files) use the same functions.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, BinaryIO

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
# Files whose text goes into the GGUF as it is (a chat template, BPE merges): a symlink among them
# must stay inside the checkpoint, or a link to /etc/passwd would be copied into a model the user
# may share. (Weights and JSON files may link anywhere: only their parsed contents are used.)
VERBATIM_SUFFIXES = (".jinja", ".txt")
PSEUDO_FILE_SYSTEMS = ("/proc", "/sys")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_JSON_DEPTH = 200  # the deepest real tokenizer.json nests about 8 levels


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


def _pseudo_file(path: Path, status: os.stat_result) -> bool:
    """A file of /proc or /sys: its size is made up and reading it may wait forever."""
    real = os.path.realpath(path)
    for root in PSEUDO_FILE_SYSTEMS:
        if real == root or real.startswith(root + os.sep):
            return True
        try:
            if os.stat(root).st_dev == status.st_dev:
                return True
        except OSError:
            continue
    return False


def _unreadable(path: Path, exc: OSError) -> NotARegularFileError | None:
    """The error for a link that loops, leads nowhere or cannot be followed; None otherwise."""
    if exc.errno == errno.ELOOP:
        return NotARegularFileError(f"“{path.name}” is a link that leads back to itself.")
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        return NotARegularFileError(
            f"“{path.name}” is a link to “{os.readlink(path)}”, which does not exist."
        )
    return None


def _check_status(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise _refuse(path, status.st_mode)
    if _pseudo_file(path, status):
        raise NotARegularFileError(
            f"“{path.name}” is a file of the system (under {' or '.join(PSEUDO_FILE_SYSTEMS)}), "
            "not a file Huacaya can read."
        )


def check_regular(path: Path) -> None:
    """Refuse ``path`` unless it (or its symlink's final target) is a regular file."""
    try:
        status = os.stat(path)  # follows symlinks to the end
    except OSError as exc:
        raise _unreadable(path, exc) or exc from None
    _check_status(path, status)


def check_contained(path: Path, folder: Path) -> None:
    """Refuse ``path`` when it (through a link to it or to a folder above it) lies outside
    ``folder`` (in a Hugging Face cache snapshot, ``snapshots/<revision>``, the repository's
    blobs are inside too)."""
    roots = [folder.resolve()]
    if folder.parent.name == "snapshots":
        roots.append(folder.parent.parent.resolve())
    target = path.resolve()
    if not any(target.is_relative_to(root) for root in roots):
        raise NotARegularFileError(
            f"“{path.name}” is a link to “{target}”, outside the checkpoint; its text would be "
            "copied into the model as it is.",
            "Copy the file into the checkpoint folder if it really belongs to the model.",
        )


def check_folder(folder: Path) -> None:
    """Refuse a checkpoint folder holding something other than a regular file under a name the
    converter reads (this folder and its immediate subfolders, as sentence-transformers use),
    or a link to text outside it whose text would go into the model as it is."""
    subfolders = [d for d in folder.iterdir() if _is_dir(d)]
    for entry in [*folder.iterdir(), *(p for d in subfolders for p in d.iterdir())]:
        if entry.name.endswith(READ_SUFFIXES) and not _is_dir(entry):
            check_regular(entry)
            if entry.name.endswith(VERBATIM_SUFFIXES):
                check_contained(entry, folder)


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
    except OSError as exc:
        raise _unreadable(path, exc) or exc from None
    try:
        _check_status(path, os.fstat(fd))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file ``path`` (never more than ``fstat`` says it holds), or
    None when it holds more than ``limit`` bytes (the caller says why that is too much)."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            return None
        return handle.read(size)


def read_bounded(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of the regular file ``path``, refused when it is larger than ``limit``."""
    data = read_regular(path, limit)
    if data is None:
        raise CheckpointError(
            f"“{path.name}” is {path.stat().st_size:,} bytes, far more than such a file ever "
            f"holds (at most {limit:,}).",
            "Replace it with the file from the model's original repository.",
        )
    return data


def read_text(path: Path, limit: int) -> str:
    """The UTF-8 text of the regular file ``path`` (a byte-order mark dropped).

    Raises FileNotFoundError, NotARegularFileError (a pipe, device or kernel file, which would
    block or never end), or ValueError with the reason in words (too large, not UTF-8).
    """
    data = read_regular(path, limit)
    if data is None:
        raise ValueError(f"it is larger than {limit / 2**20:,.0f} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"it is not UTF-8 text (byte {exc.start:,} is {exc.object[exc.start]:#04x})"
        ) from None


def lone_surrogate(text: str) -> int | None:
    """Where the first lone surrogate of ``text`` is (JSON can spell one, ``"\\ud800"``, that
    is no character: it fails whatever encodes the text later), if it has one."""
    found = _SURROGATE.search(text)
    return None if found is None else found.start()


def json_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of JSON Lines text: split at line feeds only. ``str.splitlines``
    also splits at U+2028, U+0085 and form feeds, which JSON strings may hold as they are."""
    return [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), 1)]


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` for input from anywhere: ValueError, with the reason in words, for
    anything it cannot take (not JSON, nested hundreds of levels deep, a number of thousands
    of digits), never a RecursionError far from here."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"it is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(" at")  # "Unterminated string starting at": not "at at"
        raise ValueError(f"it is not valid JSON ({reason} at line {exc.lineno})") from None
    except ValueError as exc:  # Python refuses to read integers of more than 4,300 digits
        if "digits" in str(exc):
            raise ValueError(
                f"it holds a number of more than {sys.get_int_max_str_digits():,} digits, "
                "which JSON readers refuse"
            ) from None
        raise ValueError(f"it holds a value JSON readers refuse ({exc})") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels (without recursion:
    a value just under Python's recursion limit would make every later walk over it fail)."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                below.extend(v for v in item.values() if isinstance(v, (dict, list)))
            elif isinstance(item, list):
                below.extend(v for v in item if isinstance(v, (dict, list)))
        if not below:
            return False
        level = below
    return True
