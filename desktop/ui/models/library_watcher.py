"""Notices when the model library changes on disk, whoever changed it: a model installed by
``huacaya-train --export-gguf`` or ``huacaya models import`` in a terminal, another window, a
file manager.

A ``QFileSystemWatcher`` watches the library folder (a model folder added, removed or renamed)
and each model's folder (its ``manifest.json`` written by rename). File-system notifications
can be missing (network drives, inotify's limit on watches), so a slow timer also compares the
listing. Either way ``changed`` is emitted once per real change: what is compared is the set of
manifests with their sizes and modification times, read a moment after the last notification
so that a model being written is seen once it is complete.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from desktop.core.models.library import MANIFEST

log = logging.getLogger(__name__)

SETTLE_MS = 250  # notifications come in bursts (temporary file, rename): read once they stop
POLL_MS = 3000  # the backstop where notifications do not arrive

Fingerprint = frozenset[tuple[str, int, int]]


def fingerprint(root: Path) -> Fingerprint:
    """Every model manifest in ``root``: (folder, size, modification time)."""
    found = set()
    try:
        folders = list(root.iterdir())
    except OSError:
        return frozenset()
    for folder in folders:
        try:
            stat = (folder / MANIFEST).stat()
        except OSError:
            continue  # not a model (yet): no manifest
        found.add((folder.name, stat.st_size, stat.st_mtime_ns))
    return frozenset(found)


class LibraryWatcher(QObject):
    changed = Signal()

    def __init__(self, root: Callable[[], Path], parent: QObject | None = None) -> None:
        """``root`` says where the library is now (the Models window can move it)."""
        super().__init__(parent)
        self._root = root
        self._watched_root: Path | None = None
        self._last = fingerprint(root())
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._soon)
        self._watcher.fileChanged.connect(self._soon)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.check)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.check)
        self._poll.start()
        self._watch()

    def _soon(self, _path: str) -> None:
        self._settle.start()  # restarts: one read after the burst

    def _watch(self) -> None:
        """Watch the library folder and every model folder in it (new ones included)."""
        root = self._root()
        if root != self._watched_root:
            old = self._watcher.directories()
            if old:
                self._watcher.removePaths(old)
            self._watched_root = root
        wanted = [str(root)]
        with contextlib.suppress(OSError):  # gone: the poll keeps looking
            wanted += [str(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        watched = set(self._watcher.directories())
        missing = [p for p in wanted if p not in watched]
        if missing:
            self._watcher.addPaths(missing)  # returns those it could not watch: the timer sees them

    def check(self) -> None:
        """Compare the library with what was last seen; ``changed`` if it differs."""
        self._watch()
        now = fingerprint(self._root())
        if now != self._last:
            self._last = now
            log.info("the model library changed on disk")
            self.changed.emit()

    def stop(self) -> None:
        self._poll.stop()
        self._settle.stop()
