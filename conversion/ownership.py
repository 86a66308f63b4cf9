"""Processes: which one owns a temporary file, folder or job, cleaning up after dead ones, and
ending a child process with everything it started.

A process killed with ``kill -9`` (or by a power cut, or the OOM killer) runs no cleanup: its
``.partial`` files, ``.huacaya-convert-*`` folders and child processes would stay forever. So:

- `kill_tree` ends a child together with everything it started (a job's quantizer, say);
- temporary names carry their owner, ``~PID-START`` (``START``: the process's start time in
  hundredths of a second, so a PID reused by another process is not mistaken for the owner);
  ``sweep`` removes those whose owner is dead, and never touches a live process's files;
- child processes call ``die_with_parent`` first: on Linux the kernel kills them when their
  parent dies (``PR_SET_PDEATHSIG``), elsewhere on POSIX a watchdog thread notices the new
  parent; they get their own process group, so a Ctrl+C in a terminal reaches only the parent,
  which cancels its work cleanly. On Windows the parent puts each child into a job object that
  kills it when the parent's last handle closes (``adopt_child``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

TAG = re.compile(r"~(\d+)-(\d+)(?=[.-]|$)")
CONVERT_FOLDER_PREFIX = ".huacaya-convert-"
_PARTIAL_SUFFIXES = (".partial", ".tmp")


@dataclass(frozen=True)
class Owner:
    pid: int
    started: int  # the process's start time, in hundredths of a second since the epoch

    @classmethod
    def current(cls) -> Owner:
        return cls.of(os.getpid()) or cls(os.getpid(), 0)

    @classmethod
    def of(cls, pid: int) -> Owner | None:
        try:
            return cls(pid, round(psutil.Process(pid).create_time() * 100))
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
            return None

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        match = TAG.search(text)
        return cls(int(match[1]), int(match[2])) if match else None

    @property
    def tag(self) -> str:
        return f"~{self.pid}-{self.started}"

    def alive(self) -> bool:
        """True while the very process that made the tag runs (a reused PID does not count)."""
        now = Owner.of(self.pid)
        if now is None:
            return False
        try:
            if psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            return False
        return abs(now.started - self.started) <= 1  # rounding of the start time


def owned_name(prefix: str) -> str:
    """``prefix`` followed by this process's tag, for a temporary file or folder name."""
    return f"{prefix}{Owner.current().tag}."


def is_leftover(path: Path) -> bool:
    """A temporary file or folder of ours whose owner process is dead."""
    name = path.name
    temporary = name.startswith(CONVERT_FOLDER_PREFIX) or (
        name.startswith(".") and name.endswith(_PARTIAL_SUFFIXES)
    )
    owner = Owner.parse(name) if temporary else None
    return owner is not None and not owner.alive()


def sweep(folder: Path) -> int:
    """Remove the leftovers of dead processes in ``folder``; return the bytes freed."""
    freed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for path in entries:
        if not is_leftover(path):
            continue
        size = tree_size(path)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("could not remove leftover %s: %s", path, exc)
            continue
        log.info("removed %s, left behind by a process that died (%d bytes)", path, size)
        freed += size
    return freed


def tree_size(path: Path) -> int:
    """Bytes in a file or a folder tree (links not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
        return sum(
            (Path(root) / name).lstat().st_size
            for root, _, files in os.walk(path)
            for name in files
        )
    except OSError:
        return 0


# -- child processes -------------------------------------------------------------------------


def die_with_parent(parent_pid: int) -> None:
    """Called first thing in a child process: end it when ``parent_pid`` dies."""
    if os.name != "posix":
        return  # Windows: the parent's job object (adopt_child)
    # Our own group: a terminal's Ctrl+C goes to the parent only. (It fails only for a group
    # or session leader, which has its own already.)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before we could ask
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    import time

    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


_windows_job: int | None = None


def adopt_child(pid: int | None) -> None:
    """On Windows, tie the child ``pid`` to this process's lifetime (a kill-on-close job
    object, made once); elsewhere ``die_with_parent`` in the child does it. ``None`` (a
    process that did not start) is ignored."""
    if sys.platform != "win32" or pid is None:
        return
    import ctypes
    from ctypes import wintypes

    global _windows_job
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.SetInformationJobObject.argtypes = [
        wintypes.HANDLE,
        ctypes.c_int,
        ctypes.c_void_p,
        wintypes.DWORD,
    ]
    kernel32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    if _windows_job is None:
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            log.warning("CreateJobObject failed: %d", ctypes.get_last_error())
            return
        info = _extended_limit_information()
        info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        extended_limit_information = 9
        if not kernel32.SetInformationJobObject(
            job, extended_limit_information, ctypes.byref(info), ctypes.sizeof(info)
        ):
            log.warning("SetInformationJobObject failed: %d", ctypes.get_last_error())
            kernel32.CloseHandle(job)
            return
        _windows_job = job  # kept open for our lifetime: closing it kills the children
    process_set_quota, process_terminate = 0x0100, 0x0001
    handle = kernel32.OpenProcess(process_set_quota | process_terminate, False, pid)
    if not handle:
        return  # it has already ended
    if not kernel32.AssignProcessToJobObject(_windows_job, handle):
        log.warning("AssignProcessToJobObject failed: %d", ctypes.get_last_error())
    kernel32.CloseHandle(handle)


def _extended_limit_information():
    import ctypes
    from ctypes import wintypes

    class BasicLimits(ctypes.Structure):
        _fields_ = [
            ("PerProcessUserTimeLimit", ctypes.c_int64),
            ("PerJobUserTimeLimit", ctypes.c_int64),
            ("LimitFlags", wintypes.DWORD),
            ("MinimumWorkingSetSize", ctypes.c_size_t),
            ("MaximumWorkingSetSize", ctypes.c_size_t),
            ("ActiveProcessLimit", wintypes.DWORD),
            ("Affinity", ctypes.c_size_t),
            ("PriorityClass", wintypes.DWORD),
            ("SchedulingClass", wintypes.DWORD),
        ]

    class IoCounters(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_uint64)
            for name in (
                "ReadOperationCount",
                "WriteOperationCount",
                "OtherOperationCount",
                "ReadTransferCount",
                "WriteTransferCount",
                "OtherTransferCount",
            )
        ]

    class ExtendedLimits(ctypes.Structure):
        _fields_ = [
            ("BasicLimitInformation", BasicLimits),
            ("IoInfo", IoCounters),
            ("ProcessMemoryLimit", ctypes.c_size_t),
            ("JobMemoryLimit", ctypes.c_size_t),
            ("PeakProcessMemoryUsed", ctypes.c_size_t),
            ("PeakJobMemoryUsed", ctypes.c_size_t),
        ]

    return ExtendedLimits()


def kill_tree(pid: int | None, timeout: float = 2.0) -> None:
    """Terminate process ``pid`` and all its descendants, killing what outlives ``timeout``
    (``None``, a process that never started, has none)."""
    if pid is None:
        return
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(family, timeout=timeout)
    for process in alive:
        log.warning("process %d did not end when asked; killing it", process.pid)
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=timeout)
