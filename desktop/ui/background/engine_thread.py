"""The chat engine on its own thread, driven from the GUI through queued signals.

Use this way when the work needs an object that must live on one thread for its whole life (a
llama.cpp ``Llama`` is not thread-safe) and requests come to it one after another: a QThread
owns the object, the GUI sends requests as queued signals and gets its news back the same way.

``EngineController`` lives on the GUI thread; ``_EngineWorker`` lives on a QThread and owns the
``ChatEngine`` (so every llama.cpp call happens on that one thread). Loading and answering
never block the window. Each answer request carries its own cancel token, created with the
request on the GUI thread: Stop cancels it directly (the worker is busy in the generation loop
and would only see a queued message afterwards), even before the first token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from conversion.errors import HuacayaError
from desktop.core.chat.context_meter import Draft
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import AnswerRequest
from desktop.ui.errors import as_user_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadRequest:
    path: Path
    context_length: int
    threads: int
    gpu_layers: int
    prompt_format: str = "auto"


class _EngineWorker(QObject):
    loaded = Signal(object)  # ModelInfo
    load_failed = Signal(object)  # HuacayaError
    unloaded = Signal()
    delta = Signal(str)
    finished = Signal(object)  # the Response, ended
    failed = Signal(object)  # HuacayaError
    measured = Signal(object)  # ContextUse, or None: no model to count with

    def __init__(self) -> None:
        super().__init__()
        self.engine: ChatEngine | None = None

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        self._close()
        engine = ChatEngine(
            request.path,
            context_length=request.context_length,
            threads=request.threads,
            gpu_layers=request.gpu_layers,
            prompt_format=request.prompt_format,
        )
        try:
            info = engine.load()
        except Exception as exc:  # shown to the user; the app keeps running
            self.load_failed.emit(as_user_error(exc))
            return
        self.engine = engine
        self.loaded.emit(info)

    @Slot(object)
    def generate(self, request: AnswerRequest) -> None:
        engine = self.engine
        if engine is None:
            self.failed.emit(HuacayaError("No model is loaded.", "Choose a model first."))
            return
        try:
            response = engine.respond(request)
            for text in response:
                self.delta.emit(text)
        except Exception as exc:
            self.failed.emit(as_user_error(exc))
            return
        self.finished.emit(response)

    @Slot(object)
    def measure(self, draft: Draft) -> None:
        """Count the context meter's tokens (here: the engine's tokenizer is this thread's)."""
        if self.engine is None:
            self.measured.emit(None)
            return
        try:
            use = self.engine.measure(draft)
        except HuacayaError as exc:
            log.warning("the context meter could not count: %s", exc)
            use = None
        self.measured.emit(use)

    @Slot()
    def unload(self) -> None:
        self._close()
        self.unloaded.emit()

    @Slot()
    def shutdown(self) -> None:
        self._close()
        self.thread().quit()

    def _close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


class EngineController(QObject):
    """The GUI's handle on the engine thread."""

    loaded = Signal(object)
    load_failed = Signal(object)
    unloaded = Signal()
    delta = Signal(str)
    finished = Signal(object)
    failed = Signal(object)
    measured = Signal(object)  # ContextUse, or None: no model loaded

    _request_load = Signal(object)
    _request_unload = Signal()
    _request_generate = Signal(object)
    _request_shutdown = Signal()
    _request_measure = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("huacaya-engine")
        self._worker = _EngineWorker()
        self._worker.moveToThread(self._thread)
        self._request_load.connect(self._worker.load)
        self._request_unload.connect(self._worker.unload)
        self._request_generate.connect(self._worker.generate)
        self._request_shutdown.connect(self._worker.shutdown)
        self._request_measure.connect(self._worker.measure)
        self._worker.measured.connect(self._on_measured)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.unloaded.connect(self._on_unloaded)
        self._worker.delta.connect(self.delta)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._busy = False  # loading or answering
        self._generating = False
        self._request: AnswerRequest | None = None
        # The context meter: one count at a time, and only the latest draft waits (typing
        # faster than counting never queues work); none is sent while the engine is busy.
        self._measuring = False
        self._next_draft: Draft | None = None
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Loading, unloading or answering: the engine takes nothing new."""
        return self._busy

    @property
    def generating(self) -> bool:
        """An answer is being produced."""
        return self._generating

    def load(self, request: LoadRequest) -> None:
        self._busy = True
        self._request_load.emit(request)

    def unload(self) -> None:
        """Free the model (after the answer in progress, if any); ``unloaded`` tells when."""
        self._busy = True
        self._request_unload.emit()

    def generate(self, request: AnswerRequest) -> None:
        self._busy = self._generating = True
        self._request = request
        self._request_generate.emit(request)

    def measure(self, draft: Draft) -> None:
        """Count ``draft`` for the context meter on the engine's thread; ``measured`` tells.
        While the engine loads or answers, the latest draft waits until it is free."""
        self._next_draft = draft
        self._send_draft()

    def _send_draft(self) -> None:
        if self._measuring or self._busy or self._next_draft is None:
            return
        draft, self._next_draft = self._next_draft, None
        self._measuring = True
        self._request_measure.emit(draft)

    def _on_measured(self, use: object) -> None:
        self._measuring = False
        if self._next_draft is None:
            self.measured.emit(use)
        self._send_draft()  # a newer draft came meanwhile: this count is already out of date

    def stop(self) -> None:
        """Stop the answer being produced (its request's token; a no-op when none is)."""
        if self._request is not None:
            self._request.cancel.cancel()

    def abandon(self) -> None:
        """Stop the answer and stop waiting for it (the window closes without it): from now on
        the engine counts as idle, whatever its thread still says."""
        self.stop()
        self._request = None
        self._busy = self._generating = False

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop any answer, free the model on its own thread and end the thread."""
        if not self._thread.isRunning():
            return
        self.stop()
        self._request_shutdown.emit()
        if not self._thread.wait(timeout_ms):
            log.warning("the engine thread did not finish within %d ms", timeout_ms)

    def _on_loaded(self, info: object) -> None:
        self._busy = False
        self.loaded.emit(info)
        self._send_draft()

    def _on_load_failed(self, error: object) -> None:
        self._busy = False
        self.load_failed.emit(error)
        self._send_draft()

    def _on_unloaded(self) -> None:
        self._busy = self._generating = False
        self.unloaded.emit()
        self._send_draft()

    def _on_finished(self, response: object) -> None:
        self._busy = self._generating = False
        self._request = None
        self.finished.emit(response)
        self._send_draft()

    def _on_failed(self, error: object) -> None:
        self._busy = self._generating = False
        self._request = None
        self.failed.emit(error)
        self._send_draft()
