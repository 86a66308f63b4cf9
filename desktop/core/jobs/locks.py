"""One job per target at a time: a lock file per source being imported or downloaded.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so a
process that dies in any way, ``kill -9`` included, releases it at once: a stale lock file is
simply locked again by the next job. The file also records who holds it (PID, process start
time, since when) for the message a second job gets. A holder removes the file when it is done
while still holding the lock; a job that opened the old file in that instant notices (the path
no longer names the file it locked) and tries again, so two jobs never both hold a target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from conversion.errors import JobBusyError
from conversion.ownership import Owner
from desktop.core import paths

_held: dict[str, int] = {}  # path → descriptor, for the locks this process holds


def _folder() -> Path:
    folder = paths.data_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lock_path(key: str) -> Path:
    return _folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)  # lock a byte past the text, which stays readable
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder(key: str) -> dict | None:
    """Who holds the lock of ``key`` (pid, since, what), or None when it is free."""
    path = lock_path(key)
    if str(path) in _held:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if _try_lock(fd):
            return None  # free (a stale file of a dead holder); closing the fd unlocks it
        try:
            return json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
    finally:
        os.close(fd)


def remove_stale() -> None:
    """Remove the lock files of dead holders (the lock itself died with them)."""
    if os.name == "nt":
        return  # the files stay (Windows cannot remove an open file); they are tiny
    for path in _folder().glob("*.lock"):
        if str(path) in _held:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            if _try_lock(fd):  # free: remove it while holding it (see the module docstring)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        finally:
            os.close(fd)


def ensure_free(key: str, what: str) -> None:
    """Raise JobBusyError if another process holds the lock of ``key``."""
    path = lock_path(key)
    if str(path) not in _held and holder(key) is not None:
        raise _busy(path, what)


@contextlib.contextmanager
def hold(key: str, what: str) -> Iterator[None]:
    """Hold the lock of ``key`` for the block, or raise JobBusyError naming who holds it.
    Holding a lock this process already holds is allowed (and releases it only once)."""
    path = lock_path(key)
    if str(path) in _held:
        yield
        return
    fd = _acquire(path, what)
    _held[str(path)] = fd
    try:
        yield
    finally:
        del _held[str(path)]
        if os.name != "nt":  # Windows cannot remove an open file; the tiny file stays
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # still holding it: nobody can have locked this file meanwhile
        os.close(fd)


def _acquire(path: Path, what: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise _busy(path, what)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder removed it just as we opened it: take the new one
    owner = Owner.current()
    record = {"pid": owner.pid, "started": owner.started, "since": time.time(), "what": what}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode())
    return fd


def _busy(path: Path, what: str) -> JobBusyError:
    try:
        record = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        record = {}
    who = f"process {record['pid']}" if "pid" in record else "another process"
    since = (
        f", since {time.strftime('%H:%M', time.localtime(record['since']))}"
        if "since" in record
        else ""
    )
    return JobBusyError(f"{what} is already in progress ({who}{since}).")
