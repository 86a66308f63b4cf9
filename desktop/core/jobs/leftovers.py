"""Removing what processes that died (kill -9, a crash, a power cut) left behind, at start.

Temporary files carry their owner's PID and start time (``conversion.ownership``), so only
those of dead processes go; a conversion or job running in another window or terminal keeps
its files. Interrupted job folders are never removed here: an interrupted job is shown with
Resume and Discard instead (``JobStore.interrupted``). Failed jobs that kept nothing to continue
from are (``JobStore.remove_spent``): their reason was shown when they failed.
"""

from __future__ import annotations

import logging

from conversion.ownership import sweep
from desktop.core import paths
from desktop.core.jobs import locks
from desktop.core.jobs.store import JobStore

log = logging.getLogger(__name__)


def remove_leftovers() -> int:
    """Sweep the app's own folders; return the bytes freed."""
    models = paths.models_dir()
    folders = [paths.data_dir(), paths.config_dir(), models]
    folders += [p for p in models.iterdir() if p.is_dir()]
    jobs = JobStore()
    freed = sum(sweep(folder) for folder in folders) + jobs.sweep()
    if removed := jobs.remove_spent():
        log.info("forgot %d failed model jobs that kept nothing", removed)
    locks.remove_stale()
    if freed:
        log.info("removed %d bytes left behind by processes that died", freed)
    return freed
