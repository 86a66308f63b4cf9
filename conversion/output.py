"""Where converted, quantized and generated files are written: checked first, then built under a
temporary name beside the destination and renamed only when complete. Everything the user owns
(models, chats, settings, data, runs) is written through the atomic writers here, by the app and
the converters alike."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, TextIO, cast

from conversion.errors import ConversionError, OutputExistsError
from conversion.ownership import owned_name, sweep


def check_destination(dst: Path, force: bool) -> None:
    if dst.exists() and not force:
        raise OutputExistsError(f"“{dst}” already exists.")
    if not dst.parent.is_dir():
        raise ConversionError(f"The output folder “{dst.parent}” does not exist.")


def partial_file(dst: Path) -> Path:
    """A new empty ``.NAME.~OWNER.*.partial`` in the destination's folder (so the rename is
    atomic). Leftovers of dead processes in that folder are removed first (``ownership``)."""
    sweep(dst.parent)
    fd, name = tempfile.mkstemp(
        prefix=owned_name(f".{dst.name}."), suffix=".partial", dir=dst.parent
    )
    os.close(fd)
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    A crash at any moment leaves either the old file or the new one, never half of one.
    """
    with _atomic_handle(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_text_file(path: Path) -> AbstractContextManager[TextIO]:
    """A text file (UTF-8) to write ``path``'s new content into, piece by piece: renamed into
    place when the block ends, removed if it raises (a cancel, a full disk), so ``path`` is the
    old file or the whole new one, never a part."""
    return cast(
        AbstractContextManager[TextIO],
        _atomic_handle(path, "w", encoding="utf-8", newline="\n"),
    )


@contextmanager
def _atomic_handle(path: Path, mode: str, **options: Any) -> Iterator[IO[Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=owned_name(f".{path.name}."), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: Path, replace_files: bool = False) -> Iterator[Path]:
    """A new folder to fill with ``path``'s files: it becomes ``path`` when the block ends, and
    is removed if it raises. Where ``path`` already has files (``replace_files``: the person
    agreed), the new files are moved in, each replacing one of the same name; the others stay."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        tempfile.mkdtemp(prefix=owned_name(f".{path.name}."), suffix=".partial", dir=path.parent)
    )
    try:
        yield tmp
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        if not path.exists():
            os.replace(tmp, path)
            return
        if not (replace_files and path.is_dir()):
            raise OutputExistsError(f"“{path}” already exists.")
        for item in tmp.iterdir():
            os.replace(item, path / item.name)
        tmp.rmdir()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
