"""Model jobs in a child process, watched from the GUI thread.

Use this way for hours of native code (download, convert, quantize) that may crash or run out of
memory, that a quit must be able to end with everything it started, and that continues at the
next start: a child process does the work and a timer on the GUI thread reads its news, so a
crash costs a message, never the app. (Which jobs exist, and their rows in the Models window, is
``desktop/ui/models/jobs.py``.)

The job (download, conversion, quantization, verification) runs in a spawned process so the
window stays responsive; its progress comes back through a queue that a timer on the GUI thread
drains (nothing here ever waits on a process). Cancel sets the job's cancel token, which the
job process shares: the job stops its own children (the quantizer), removes its files and says
so; a job that does not answer within a few seconds is killed with everything it started.
Quitting kills the job's processes but keeps its files, so it resumes at the next start. A job
whose process dies without a word is recorded as failed with the exit code, never restarted
blindly; errors arrive as the typed errors the job raised.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

from PySide6.QtCore import QObject, QTimer, Signal

from conversion.errors import JobError
from conversion.ownership import adopt_child, kill_tree
from desktop.core import paths, secrets
from desktop.core.jobs.runner import run_in_child
from desktop.core.jobs.store import Job, JobStore

POLL_MS = 100
CANCEL_GRACE_S = 10.0


class JobProcess(QObject):
    progress = Signal(str, float, str)  # job id, fraction, message
    finished = Signal(str, str, str)  # job id, model id, model name
    failed = Signal(str, object)  # job id, HuacayaError
    cancelled = Signal(str)  # job id

    def __init__(
        self,
        job: Job,
        store: JobStore,
        offline: bool,
        models_folder: str,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.job, self.store = job, store
        context = multiprocessing.get_context("spawn")
        self.messages = context.Queue()
        self.stop = context.Event()
        self.process = context.Process(
            target=run_in_child,
            args=(
                job.id,
                secrets.get_token(),
                offline,
                os.environ.get(paths.HOME_ENV),
                models_folder,
                self.messages,
                self.stop,
                os.getpid(),
            ),
            daemon=False,  # it starts the quantizer's own process; ended on quit
        )
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._cancel_deadline: float | None = None
        self.done = False

    def start(self) -> None:
        self.process.start()
        adopt_child(self.process.pid)  # Windows: it ends with us (POSIX: die_with_parent)
        self._timer.start()

    def cancel(self) -> None:
        """Ask the job to stop and clean up; it is killed if it has not within a few seconds."""
        if self.done or self._cancel_deadline is not None:
            return
        self.stop.set()
        self._cancel_deadline = time.monotonic() + CANCEL_GRACE_S

    def stop_for_quit(self) -> None:
        """The app is closing: end the job's processes now, keep its files to resume."""
        if not self.done:
            self._finish()
            if self.process.pid is not None:
                kill_tree(self.process.pid)
                self.process.join(1)  # it was killed: reaping it takes no time
            self.store.pause(self.job.id)

    def _finish(self) -> None:
        self.done = True  # the timer goes on until the process has exited and been reaped

    def _reap(self) -> None:
        if self.process.pid is None or not self.process.is_alive():  # is_alive() reaps it
            self._timer.stop()

    def _poll(self) -> None:
        if self.done:
            self._reap()
            return
        while True:
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                break
            kind = message[0]
            if kind == "progress":
                self.progress.emit(self.job.id, float(message[1]), str(message[2]))
            elif kind == "done":
                self._finish()
                self.store.remove(self.job)
                self.finished.emit(self.job.id, message[1], message[2])
                return
            elif kind == "cancelled":
                self._finish()
                self.cancelled.emit(self.job.id)
                return
            elif kind == "failed":
                self._finish()
                self.failed.emit(self.job.id, message[1])
                return
        if self.done:
            return
        if self._cancel_deadline is not None and time.monotonic() > self._cancel_deadline:
            self._finish()
            kill_tree(self.process.pid)
            self.store.remove(self.job)
            self.cancelled.emit(self.job.id)
        elif not self.process.is_alive():
            self._finish()
            if self._cancel_deadline is not None:
                self.store.remove(self.job)
                self.cancelled.emit(self.job.id)
                return
            error = JobError(
                f"The job's process stopped unexpectedly (exit code {self.process.exitcode}).",
                "It may have run out of memory. Retry it, or remove it.",
            )
            self.store.mark_failed(self.job.id, error)
            self.failed.emit(self.job.id, error)
