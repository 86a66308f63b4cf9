"""Watch the folders of collections and say which collection changed (watchdog: inotify,
FSEvents, ReadDirectoryChangesW), so only changed files are indexed again, soon after they
change.

Events are debounced per collection: a burst (a copy of a hundred files, an editor's save
dance) becomes one call ``delay`` seconds after the last event. ``on_change`` is called from a
timer thread; a window forwards it to its own thread. Watching is an accelerator, not the
source of truth: the indexer compares fingerprints, so a missed event is caught by the rescan
at start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from desktop.core.documents import parsers
from desktop.core.documents.store import Collection

log = logging.getLogger(__name__)


class _Handler(FileSystemEventHandler):
    def __init__(self, name: str, notice: Callable[[str], None]) -> None:
        self.name = name
        self.notice = notice

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reading a file changes nothing
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            path = Path(str(raw)) if raw else None
            if path is None or path.name.startswith("."):
                continue
            if event.is_directory or parsers.supported(path):
                self.notice(self.name)
                return


class FolderWatcher:
    def __init__(self, on_change: Callable[[str], None], delay: float = 2.0) -> None:
        self.on_change = on_change
        self.delay = delay
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._watching: list[tuple[str, str, bool]] = []  # (collection, folder, recursive)

    def watch(self, collections: Sequence[Collection]) -> None:
        """Watch exactly these collections' folders from now on. The same folders as now keep
        their watches: the window asks after every indexing run, and stopping watchdog's
        threads just after they started makes its inotify emitter log an error."""
        wanted = []
        for collection in collections:
            for source in map(Path, collection.sources):
                folder = source if source.is_dir() else source.parent
                if folder.is_dir():  # a missing folder: the rescan reports it
                    wanted.append((collection.name, str(folder), source.is_dir()))
        if wanted == self._watching and self._observer is not None:
            return
        self.stop()
        observer = Observer()
        handlers: dict[str, _Handler] = {}
        for name, watched, recursive in wanted:
            handler = handlers.setdefault(name, _Handler(name, self._notice))
            try:
                observer.schedule(handler, watched, recursive=recursive)
            except OSError as exc:  # e.g. the system's limit of watches is reached
                log.warning("cannot watch %s: %s (rescans still find changes)", watched, exc)
        if wanted:
            observer.daemon = True
            observer.start()
            self._observer = observer
            self._watching = wanted

    def _notice(self, name: str) -> None:
        with self._lock:
            timer = self._timers.get(name)
            if timer is not None:
                timer.cancel()
            timer = threading.Timer(self.delay, self._fire, (name,))
            timer.daemon = True
            self._timers[name] = timer
            timer.start()

    def _fire(self, name: str) -> None:
        with self._lock:
            self._timers.pop(name, None)
        self.on_change(name)

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self._watching = []
