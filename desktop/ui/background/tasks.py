"""A task: a short piece of work on Qt's thread pool, with progress and cancel.

Use this when: the work takes from a moment to a minute or so (reading a file, checking a model,
asking the Hub, searching the history), a person may watch it or stop it, and it needs no thread
of its own. The work is a plain function ``work(progress, cancel)`` that knows nothing of Qt —
usually a core function, which takes the same two arguments. Its progress, then its result or
its error, come back to the GUI thread::

    task = run_in_background(
        lambda progress, cancel: hub.search(query, cancel=cancel),
        on_success=show_results,
        on_failure=show_error,
        on_progress=lambda fraction, message: status.setText(message),
        on_cancelled=lambda: status.setText("Stopped."),
    )
    stop_button.clicked.connect(task.cancel)

Exactly one of ``on_success``, ``on_failure`` and ``on_cancelled`` is called, once, on the GUI
thread, and then ``Task.ended`` is emitted. ``task.cancel()`` sets the task's
:class:`~conversion.progress.CancelToken`; the work stops at its next ``cancel.check()`` by
raising :class:`~conversion.errors.Cancelled`, which ends the task as cancelled (never as a
failure). Work that returns although it was asked to stop has finished: it was too late to stop,
what it did is done, and its result is delivered.

Not for: work of minutes or more (it would hold one of the pool's few threads, as many as the
computer has cores: see ``indexer_thread.py``), work that owns an object for its whole life
(``engine_thread.py``), or work that may crash the process or must outlive the window
(``job_process.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, SignalInstance, Slot

from conversion.errors import Cancelled
from conversion.progress import CancelToken, Progress

log = logging.getLogger(__name__)

Work = Callable[[Progress, CancelToken], Any]
PROGRESS_STEP = 0.001  # smaller moves of the fraction (with the same message) are not sent

_running: set[Task] = set()  # a task no caller keeps must still live until it has ended


class Task(QObject):
    """One piece of work in the thread pool, seen from the GUI thread."""

    progressed = Signal(float, str)  # fraction, message
    succeeded = Signal(object)  # what the work returned
    failed = Signal(object)  # the exception it raised
    cancelled = Signal()
    ended = Signal()  # after any of the three above

    # From the pool's thread to this object, which lives on the GUI thread: queued.
    _progress_from_worker = Signal(float, str)
    _end_from_worker = Signal(str, object)  # "succeeded" | "failed" | "cancelled", value

    def __init__(self, work: Work, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work = work
        self.token = CancelToken()
        self.done = False
        self._work_ended = threading.Event()  # set on the pool's thread, whatever the outcome
        self._last_progress: tuple[float, str] | None = None
        self._progress_from_worker.connect(self._on_progress)
        self._end_from_worker.connect(self._on_end)

    @property
    def running(self) -> bool:
        return not self.done

    def cancel(self) -> None:
        """Ask the work to stop (a no-op once the task has ended)."""
        self.token.cancel()

    def wait(self, seconds: float) -> bool:
        """At shutdown only: block until the work has returned or raised (its outcome is still
        delivered as a signal, later or never); False if it still runs after ``seconds``."""
        return self._work_ended.wait(seconds)

    def start(self) -> Task:
        _running.add(self)
        self._runnable = _Runnable(self)  # kept here: Qt must not delete what Python holds
        QThreadPool.globalInstance().start(self._runnable)
        return self

    # -- on the pool's thread -----------------------------------------------------------------

    def _run(self) -> None:
        outcome: tuple[str, object]
        try:
            outcome = ("succeeded", self.work(self._report, self.token))
        except Cancelled:
            outcome = ("cancelled", None)
        except Exception as exc:  # handed to the GUI thread, which shows it
            outcome = ("failed", exc)
        finally:
            self._work_ended.set()
        self._send(self._end_from_worker, *outcome)

    def _report(self, fraction: float, message: str = "") -> None:
        last = self._last_progress
        if last is not None and last[1] == message and abs(fraction - last[0]) < PROGRESS_STEP:
            return  # a flood of tiny steps would only queue up behind the GUI
        self._last_progress = (fraction, message)
        self._send(self._progress_from_worker, float(fraction), message)

    def _send(self, signal: SignalInstance, *values: object) -> None:
        try:
            signal.emit(*values)
        except RuntimeError:  # its owner or the app closed while this ran: nobody to tell
            log.info("a background task ended after its window closed")
            _running.discard(self)

    # -- on the GUI thread --------------------------------------------------------------------

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        if not self.done:
            self.progressed.emit(fraction, message)

    @Slot(str, object)
    def _on_end(self, outcome: str, value: object) -> None:
        self.done = True
        _running.discard(self)
        if outcome == "succeeded":
            self.succeeded.emit(value)
        elif outcome == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.ended.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.task = task

    def run(self) -> None:
        self.task._run()


def run_in_background(
    work: Work,
    on_success: Callable[[Any], object],
    on_failure: Callable[[BaseException], object],
    *,
    on_progress: Callable[[float, str], object] | None = None,
    on_cancelled: Callable[[], object] | None = None,
    owner: QObject | None = None,
) -> Task:
    """Start ``work(progress, cancel)`` on the thread pool; the callbacks run on the GUI thread
    (see the module's docstring). Returns the task, whose ``cancel()`` asks the work to stop.

    With an ``owner`` (the widget the callbacks update), the task is cancelled when the owner
    is deleted, and none of its callbacks is called after that."""
    task = Task(work, owner)
    if owner is not None:
        token = task.token
        owner.destroyed.connect(lambda *_: token.cancel())
    task.succeeded.connect(on_success)
    task.failed.connect(on_failure)
    if on_progress is not None:
        task.progressed.connect(on_progress)
    if on_cancelled is not None:
        task.cancelled.connect(on_cancelled)
    return task.start()
