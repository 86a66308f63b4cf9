"""Indexing in the background for the window: one collection at a time, queued, with pause,
resume and cancel, and the indexer's status forwarded as Qt signals.

Use this way when long in-process work (minutes) comes as a queue of items and can be paused:
one plain thread drains the queue and ends when it is empty. It is not a thread-pool task
because it would hold one of the pool's few threads (as many as there are cores) for minutes,
and short tasks would wait behind it. Its signals belong to an object on the GUI thread, so Qt
delivers them there.

The work runs on a plain thread with its own :class:`Documents` (its own SQLite connection and
embedding model), so the window and its searches never wait for it. A cancelled or
interrupted run loses nothing that was stored; the next run continues from there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from conversion.errors import Cancelled, HuacayaError
from conversion.progress import CancelToken
from desktop.core.documents.indexer import IndexReport, IndexStatus, PauseToken
from desktop.core.documents.library import Documents
from desktop.core.hub.client import HubClient

log = logging.getLogger(__name__)


class DocumentIndexer(QObject):
    started = Signal(str)  # collection name
    preparing = Signal(str, float)  # what (an embedding model being downloaded), fraction
    status = Signal(object)  # IndexStatus
    finished = Signal(object)  # IndexReport
    cancelled = Signal(str)
    failed = Signal(str, object)  # collection name, HuacayaError
    collections_changed = Signal()

    def __init__(self, parent: QObject | None = None, hub: HubClient | None = None) -> None:
        """``hub``: where a new collection's Hub embedding model is downloaded from."""
        super().__init__(parent)
        self.hub = hub
        self._queue: list[tuple[str, list[Path], str]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = CancelToken()
        self.pause_token = PauseToken()
        self.current = ""

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def index(self, name: str, add: Sequence[Path] = (), model: str = "") -> None:
        """Queue ``name`` (adding ``add`` to it first, creating it with the embedding model
        ``model`` if it is new); an already queued one is not doubled."""
        with self._lock:
            for queued, paths, _model in self._queue:
                if queued == name:
                    paths.extend(add)
                    break
            else:
                # The one running now is not asked twice, unless it is being cancelled.
                if name != self.current or add or self._cancel.cancelled:
                    self._queue.append((name, list(add), model))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
                self._thread.start()

    def pause(self) -> None:
        self.pause_token.pause()

    def resume(self) -> None:
        self.pause_token.resume()

    def cancel(self) -> None:
        """Stop the running collection (what was stored stays) and drop the queue."""
        with self._lock:
            self._queue.clear()
            self._cancel.cancel()
        self.pause_token.resume()

    def shutdown(self, timeout: float = 10.0) -> None:
        self.cancel()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _next(self) -> tuple[str, list[Path], str] | None:
        with self._lock:
            if not self._queue:
                self.current = ""
                self._thread = None  # under the lock: a new request starts a new thread
                return None
            job = self._queue.pop(0)
            self.current = job[0]
            self._cancel = CancelToken()
            return job

    def _run(self) -> None:
        documents: Documents | None = None
        try:
            while (job := self._next()) is not None:
                name, paths, model = job
                try:
                    documents = documents or Documents(hub=self.hub)
                    self.started.emit(name)
                    if paths:
                        documents.add(name, paths, model, self._emit_preparing, self._cancel)
                        self.collections_changed.emit()
                    its_model = documents.collection(name).embedding_model
                    documents.embedder_for(its_model, self._emit_preparing, self._cancel)
                    report: IndexReport = documents.index(
                        name,
                        cancel=self._cancel,
                        pause=self.pause_token,
                        on_status=self._emit_status,
                    )
                except Cancelled:
                    self.cancelled.emit(name)
                except HuacayaError as exc:
                    self.failed.emit(name, exc)
                else:
                    self.finished.emit(report)
                self.collections_changed.emit()
        except RuntimeError:  # the window was destroyed while this ran: nobody to tell
            log.info("indexing ended after the window closed")
        finally:
            if documents is not None:
                documents.close()

    def _emit_status(self, status: IndexStatus) -> None:
        self.status.emit(status)

    def _emit_preparing(self, fraction: float, message: str = "") -> None:
        self.preparing.emit(message, fraction)
