"""Run short blocking work (file checks, library changes) off the GUI thread.

``run_in_background(fn, on_success, on_failure)`` calls ``fn`` on Qt's thread pool and then one
of the callbacks on the GUI thread, so the window never freezes on disk or network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

_running: set[_Task] = set()


class _Signals(QObject):
    succeeded = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # handed to the GUI thread, which shows it
            self._emit(self.signals.failed, exc)
        else:
            self._emit(self.signals.succeeded, result)

    @staticmethod
    def _emit(signal, value: object) -> None:  # type: ignore[no-untyped-def]
        try:
            signal.emit(value)
        except RuntimeError:  # the app closed while this ran: nobody is left to tell
            log.info("a background task ended after the window closed")


def run_in_background(
    fn: Callable[[], Any],
    on_success: Callable[[Any], None],
    on_failure: Callable[[BaseException], None],
) -> None:
    task = _Task(fn)
    _running.add(task)

    def succeeded(result: Any) -> None:
        _running.discard(task)
        on_success(result)

    def failed(exc: BaseException) -> None:
        _running.discard(task)
        on_failure(exc)

    task.signals.succeeded.connect(succeeded)
    task.signals.failed.connect(failed)
    QThreadPool.globalInstance().start(task)
