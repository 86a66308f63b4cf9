"""Ending a child process together with everything it started (a job's quantizer, say), and
tying children to our lifetime (``conversion.ownership``: a child dies with its parent)."""

from __future__ import annotations

import logging

import psutil

from conversion.ownership import adopt_child as adopt_child
from conversion.ownership import die_with_parent as die_with_parent

log = logging.getLogger(__name__)


def kill_tree(pid: int, timeout: float = 2.0) -> None:
    """Terminate process ``pid`` and all its descendants, killing what outlives ``timeout``."""
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
