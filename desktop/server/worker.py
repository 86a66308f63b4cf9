"""The server's model, the requests it answers together, and the queue of those waiting.

:class:`ModelWorker` runs ``parallel`` slot threads. Each takes the next request from a bounded
queue (a full queue is refused at once, see :class:`QueueFull`) and drives it: a chat answer
iterates its :class:`~desktop.core.chat.response.Response` there, while the chat engine decodes
every answer in progress together in one llama.cpp context on its own thread (continuous
batching, see ``conversion/decoding``). So up to ``parallel`` requests are answered at once and
the rest wait their turn. Each request carries its own :class:`CancelToken`, which the HTTP side
cancels when the client goes away, whether the request still waits (it is then skipped) or is
being answered (its answer ends before its next token and its slot is free for the next one).

One model is loaded at a time: a request for another one waits until the answers in progress
are done, then the model is switched (:meth:`ModelWorker.using`). Results travel back to the
event loop through a :class:`Channel`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.server.config import ServerConfig
from desktop.server.memory import slots_that_fit
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


@dataclass(eq=False)  # each job is itself (kept in a set while it runs)
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
        if self.finished:  # its client may have hung up since: it got its answer
            outcome = str(stats.get("finish_reason", "stop"))
        elif self.cancel.cancelled:
            outcome = "cancelled"
        else:
            outcome = "error"
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
        self.parallel = max(1, config.parallel)
        self.engine: ChatEngine | None = None
        self.entry: ModelEntry | None = None  # the model self.engine holds
        self.embedder: Any = None  # the documents' Embedder, loaded on first use
        self.requests = RequestLog()
        self._queue: queue.Queue[Job | object] = queue.Queue(maxsize=config.queue_size)
        self._current: set[Job] = set()  # being answered
        self._pending = 0  # requests submitted and not yet done
        self._idle = threading.Condition()
        self._models = threading.Condition()  # guards engine, entry, _users, _loading
        self._users = 0  # requests answering with self.engine
        self._loading = False
        self._embedding = threading.Lock()  # the embedder answers one request at a time
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._run, name=f"huacaya-api-slot-{i}", daemon=True)
            for i in range(self.parallel)
        ]
        for thread in self._threads:
            thread.start()

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
        """Run ``function(worker)`` on a slot thread, wait and return what it returns."""
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
        """Requests in the queue, not yet being answered."""
        return self._queue.qsize()

    @property
    def answering(self) -> int:
        return len(self._current)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request runs or waits; True if that happened within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel what runs and waits, free the models and end the threads."""
        self._stopping = True
        for job in list(self._current):
            job.cancel.cancel()
        with self._models:
            self._models.notify_all()  # a request waiting to switch models gives up
        while True:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(waiting, Job):
                waiting.cancel.cancel()
                waiting.report(Failed(Stopped()))
                self._done()
        for _ in self._threads:
            self._queue.put(_STOP)  # room: the queue was just emptied
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._free()

    # -- on the slot threads ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            assert isinstance(job, Job)
            if job.cancel.cancelled:  # its client went away while it waited
                job.report(Failed(Stopped()))
            else:
                self._current.add(job)
                try:
                    job.work(self, job)
                except Exception as exc:  # reported to the client; the worker goes on
                    log.info("API request failed: %s", exc, exc_info=True)
                    job.report(Failed(exc))
                finally:
                    self._current.discard(job)
            if job.channel is not None:  # a request (not an internal call)
                self.requests.add(job.logged(self.entry.id if self.entry else ""))
            self._done()

    @contextmanager
    def using(self, entry: ModelEntry) -> Iterator[ChatEngine]:
        """The engine holding ``entry`` while the block runs. Another model is loaded (the
        one before unloaded) once the answers in progress with it are done."""
        with self._models:
            while not self._may_use(entry):
                self._models.wait()
            if self._stopping:
                raise Stopped()
            if self.entry is None or self.entry.id != entry.id or self.engine is None:
                self._loading = True
                self._models.release()  # loading takes a while; others wait for _loading
                try:
                    self._load(entry)
                finally:
                    self._models.acquire()
                    self._loading = False
                    self._models.notify_all()
            engine = self.engine
            assert engine is not None
            self._users += 1
        try:
            yield engine
        finally:
            with self._models:
                self._users -= 1
                self._models.notify_all()

    def load(self, entry: ModelEntry) -> ChatEngine:
        """Make ``entry`` the loaded model (waiting for answers with another one to end)."""
        with self.using(entry) as engine:
            return engine

    def _may_use(self, entry: ModelEntry) -> bool:
        if self._stopping:
            return True  # to be told so
        if self._loading:
            return False
        holds = self.engine is not None and self.entry is not None and self.entry.id == entry.id
        return holds or self._users == 0

    def _load(self, entry: ModelEntry) -> None:
        """Unload the model held (no one uses it) and load ``entry``, with as many slots as the
        memory allows up to ``parallel``."""
        path = self.library.path_of(entry)
        info = read_gguf_info(path)
        freed = self.entry.size_bytes if self.engine is not None and self.entry else 0
        wanted = self.config.context_length
        context = min(wanted, info.context_length) if info.context_length else wanted
        slots = slots_that_fit(info, context, self.parallel, freed)
        if slots < self.parallel:
            log.warning(
                "API: memory allows %d answers at once with %s, not %d",
                slots,
                entry.id,
                self.parallel,
            )
        self._close_engine()
        engine = ChatEngine(
            path,
            context_length=self.config.context_length,
            threads=self.config.threads,
            gpu_layers=self.config.gpu_layers,
            slots=slots,
            background=self.config.background,
        )
        engine.load()
        self.engine, self.entry = engine, entry
        log.info("API: serving %s, %d at once", entry.id, slots)

    @property
    def embedding(self) -> threading.Lock:
        """Held while a request uses (or makes) :attr:`embedder`: one at a time."""
        return self._embedding

    def _close_engine(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine = self.entry = None

    def _free(self) -> None:
        with self._models:
            self._close_engine()
        with self._embedding:
            if self.embedder is not None:
                self.embedder.close()
                self.embedder = None
