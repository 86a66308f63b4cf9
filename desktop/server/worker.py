"""The one thread that owns the server's models, and the queue of requests waiting for it.

A ``Llama`` object is not thread-safe and one model answers one request at a time, so every
llama.cpp call of the server happens on :class:`ModelWorker`'s thread. Requests wait in a
bounded queue (a full queue is refused at once, see :class:`QueueFull`); each carries its own
:class:`CancelToken`, which the HTTP side cancels when the client goes away, whether the request
is still waiting (it is then skipped) or being answered (generation ends before the next token).

Results travel back to the event loop through a :class:`Channel`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.server.config import ServerConfig
from desktop.server.memory import check_fits
from desktop.server.request_log import LoggedRequest, RequestLog

log = logging.getLogger(__name__)
T = TypeVar("T")


class QueueFull(Exception):
    """Every place in the queue is taken."""


class Stopped(Exception):
    """The server is stopping and takes no more requests."""


@dataclass
class Delta:
    text: str


@dataclass
class Finished:
    stats: dict[str, Any]  # the answer's figures, as the history keeps them ({} for embeddings)
    content: str = ""  # the whole answer, as the chat session keeps it
    result: Any = None  # what a job other than generation returns


@dataclass
class Failed:
    error: BaseException


class Channel:
    """Events from the worker thread to one request's coroutine on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Delta | Finished | Failed] = asyncio.Queue()

    def put(self, event: Delta | Finished | Failed) -> None:
        """Thread-safe; an event for a loop that has closed (server stopped) is dropped."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:
            log.debug("event for a closed event loop dropped")

    async def get(self) -> Delta | Finished | Failed:
        return await self._queue.get()


@dataclass
class Job:
    """One request for the worker: ``work(worker, job)`` runs on its thread and reports through
    ``channel`` (None: the work reports in its own way, see :meth:`ModelWorker.call`)."""

    work: Callable[[ModelWorker, Job], None]
    channel: Channel | None
    cancel: CancelToken = field(default_factory=CancelToken)
    endpoint: str = ""  # for the request log
    client: str = ""
    submitted: float = field(default_factory=time.time)
    stats: dict[str, Any] = field(default_factory=dict)  # the answer's figures, once known
    finished: bool = False
    error: BaseException | None = None

    def report(self, event: Delta | Finished | Failed) -> None:
        if isinstance(event, Finished):
            self.finished = True
            self.stats = event.stats
        elif isinstance(event, Failed):
            self.error = event.error
        if self.channel is not None:
            self.channel.put(event)

    def logged(self, model: str) -> LoggedRequest:
        """This request as the request log keeps it, once the worker is done with it."""
        stats = self.stats
        if self.cancel.cancelled:
            outcome = "cancelled"
        elif self.error is not None or not self.finished:
            outcome = "error"
        else:
            outcome = str(stats.get("finish_reason", "stop"))
        return LoggedRequest(
            started=self.submitted,
            client=self.client,
            endpoint=self.endpoint,
            model=model,
            prompt_tokens=int(stats.get("prompt_tokens", 0)),
            completion_tokens=int(stats.get("generated_tokens", 0)),
            seconds=time.time() - self.submitted,
            outcome=outcome,
            detail=str(self.error or "") if outcome == "error" else "",
        )


_STOP = object()


class ModelWorker:
    def __init__(self, config: ServerConfig, library: ModelLibrary) -> None:
        self.config = config
        self.library = library
        self.engine: ChatEngine | None = None
        self.entry: ModelEntry | None = None  # the model self.engine holds
        self.embedder: Any = None  # the documents' Embedder, loaded on first use
        self.requests = RequestLog()
        self._queue: queue.Queue[Job | object] = queue.Queue(maxsize=config.queue_size)
        self._current: Job | None = None
        self._pending = 0  # requests submitted and not yet done
        self._idle = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="huacaya-api-model", daemon=True)
        self._thread.start()

    # -- from the event loop ---------------------------------------------------------------

    def submit(self, job: Job) -> None:
        if self._stopping:
            raise Stopped()
        with self._idle:
            try:
                self._queue.put_nowait(job)
            except queue.Full as exc:
                raise QueueFull() from exc
            self._pending += 1

    def call(self, function: Callable[[ModelWorker], T]) -> T:
        """Run ``function(worker)`` on the worker thread, wait and return what it returns."""
        future: Future[T] = Future()

        def work(worker: ModelWorker, job: Job) -> None:
            try:
                future.set_result(function(worker))
            except BaseException as exc:
                future.set_exception(exc)

        self.submit(Job(work, None))
        return future.result()

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request runs or waits; True if that happened within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel what runs and waits, free the models and end the thread."""
        self._stopping = True
        current = self._current
        if current is not None:
            current.cancel.cancel()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(job, Job):
                job.cancel.cancel()
                job.report(Failed(Stopped()))
                self._done()
        self._queue.put(_STOP)  # room: the queue was just emptied
        self._thread.join(timeout)

    # -- on the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                job = self._queue.get()
                if job is _STOP:
                    return
                assert isinstance(job, Job)
                if job.cancel.cancelled:  # its client went away while it waited
                    job.report(Failed(Stopped()))
                else:
                    self._current = job
                    try:
                        job.work(self, job)
                    except Exception as exc:  # reported to the client; the worker goes on
                        log.info("API request failed: %s", exc, exc_info=True)
                        job.report(Failed(exc))
                    finally:
                        self._current = None
                if job.channel is not None:  # a request (not an internal call)
                    self.requests.add(job.logged(self.entry.id if self.entry else ""))
                self._done()
        finally:
            self._free()

    def engine_for(self, entry: ModelEntry) -> ChatEngine:
        """The engine holding ``entry``, loading it (after unloading another) when needed."""
        if self.engine is not None and self.entry is not None and self.entry.id == entry.id:
            return self.engine
        path = self.library.path_of(entry)
        info = read_gguf_info(path)
        freed = self.entry.size_bytes if self.engine is not None and self.entry else 0
        wanted = self.config.context_length
        context = min(wanted, info.context_length) if info.context_length else wanted
        check_fits(info, context, freed)
        self._close_engine()
        engine = ChatEngine(
            path,
            context_length=self.config.context_length,
            threads=self.config.threads,
            gpu_layers=self.config.gpu_layers,
        )
        engine.load()
        self.engine, self.entry = engine, entry
        log.info("API: serving %s", entry.id)
        return engine

    def _close_engine(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine = self.entry = None

    def _free(self) -> None:
        self._close_engine()
        if self.embedder is not None:
            self.embedder.close()
            self.embedder = None
