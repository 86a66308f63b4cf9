"""Killing a real command with SIGKILL at a chosen moment, and what it leaves behind.

Used by the kill -9 tests and ``benchmarks/kill9.py``. A command runs in its own session; just
before the kill, every process it started (its quantizer, multiprocessing's resource tracker)
is noted, so that after the kill we can tell whether any outlived it (an orphan). Orphans are
killed by the harness afterwards, so a failing test never leaves processes behind itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Killed:
    """One command killed with SIGKILL."""

    when: str  # the moment chosen
    reached: bool  # the moment came before the command ended
    exit_code: int | None  # None: killed; a number: it ended by itself first
    orphans: list[str] = field(default_factory=list)  # processes that outlived it
    output: str = ""


def command(*args: str) -> list[str]:
    """A console script of this project as installed beside the interpreter (as a user runs
    it), or its module run by the interpreter."""
    script = Path(sys.executable).parent / args[0]
    if script.is_file():
        return [str(script), *args[1:]]
    modules = {"huacaya": "desktop", "huacaya-convert": "conversion.cli"}
    return [sys.executable, "-m", modules[args[0]], *args[1:]]


def _family(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _dead(process: psutil.Process) -> bool:
    """Gone, or a zombie waiting for init to reap it (dead all the same)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:120]}"
    except psutil.Error:
        return str(process.pid)


def child_running(match: str) -> Callable[[psutil.Process], bool]:
    """A moment: a descendant whose command line contains ``match`` is running."""

    def moment(process: psutil.Process) -> bool:
        return any(match in " ".join(_cmdline(p)) for p in _family(process))

    return moment


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def file_growing(
    pattern: str, folder: Path, min_bytes: int = 1
) -> Callable[[psutil.Process], bool]:
    """A moment: a file matching ``pattern`` under ``folder`` holds at least ``min_bytes``."""

    def moment(process: psutil.Process) -> bool:
        for path in folder.rglob(pattern):
            try:
                if path.stat().st_size >= min_bytes:
                    return True
            except OSError:
                continue
        return False

    return moment


def after(seconds: float) -> Callable[[psutil.Process], bool]:
    started = time.monotonic()
    return lambda process: time.monotonic() - started >= seconds


def run_and_kill(
    args: list[str],
    moment: Callable[[psutil.Process], bool],
    when: str,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    grace: float = 1.5,
) -> Killed:
    """Start ``args``; SIGKILL it when ``moment`` holds; report what outlived it by ``grace``
    seconds (short: a child that merely finished its work soon after would otherwise pass)."""
    env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    reached = False
    while time.monotonic() < deadline and proc.poll() is None:
        if moment(me):
            reached = True
            break
        time.sleep(0.02)
    family = _family(me)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Judged before reading the output: the children hold its pipe, so reading to its end
    # would wait for them to end by themselves.
    _, alive = psutil.wait_procs(family, timeout=grace)
    alive = [p for p in alive if not _dead(p)]
    orphans = [_describe(p) for p in alive]
    for process in alive:  # never leave them to the next test
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    output = proc.communicate()[0].decode("utf-8", "replace")
    code = proc.returncode if proc.returncode != -signal.SIGKILL else None
    return Killed(when, reached, code, orphans, output)


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 300.0):  # type: ignore[no-untyped-def]
    """Run a command to its end (a "next start")."""
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders and lock files (ours, by their names) under ``folder``."""
    found = []
    for path in folder.rglob("*"):
        name = path.name
        if name.endswith((".partial", ".tmp", ".lock")) or name.startswith(".huacaya-convert-"):
            found.append(str(path.relative_to(folder)))
    return sorted(found)
