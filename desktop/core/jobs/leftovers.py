"""Removing what processes that died (kill -9, a crash, a power cut) left behind, at start.

The app's folders, the model library and every "Make your own" training run (where an export
makes its GGUF on the way). Temporary files carry their owner's PID and start time
(``conversion.ownership``), so only those of dead processes go; a conversion or job running in
another window or terminal keeps its files. Interrupted job folders are never removed here: an
interrupted job is shown with Resume and Discard instead (``JobStore.interrupted``). Failed jobs
that kept nothing to continue from are (``JobStore.remove_spent``): their reason was shown when
they failed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from conversion.ownership import sweep
from desktop.core import paths
from desktop.core.jobs import locks
from desktop.core.jobs.store import JobStore
from desktop.core.studio.project import RUNS_FOLDER, studio_dir

log = logging.getLogger(__name__)


def remove_leftovers() -> int:
    """Sweep the app's own folders; return the bytes freed."""
    models = paths.models_dir()
    folders = [paths.data_dir(), paths.config_dir(), models]
    folders += [p for p in models.iterdir() if p.is_dir()]
    folders += _studio_runs()  # a run's export: its GGUF on the way
    jobs = JobStore()
    freed = sum(sweep(folder) for folder in folders) + jobs.sweep()
    if removed := jobs.remove_spent():
        log.info("forgot %d failed model jobs that kept nothing", removed)
    locks.remove_stale()
    if freed:
        log.info("removed %d bytes left behind by processes that died", freed)
    return freed


def _studio_runs() -> list[Path]:
    """The training runs of every "Make your own" project (``data/studio/<project>/runs/<run>``)."""
    found = []
    for project in _folders(studio_dir()):
        found += _folders(project / RUNS_FOLDER)
    return found


def _folders(parent: Path) -> list[Path]:
    try:
        return [p for p in parent.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
