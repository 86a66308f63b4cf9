"""Model jobs in a child process, watched from the GUI thread.

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
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from conversion.errors import HuacayaError, JobError
from conversion.ownership import adopt_child, kill_tree
from desktop.core import paths, secrets
from desktop.core.jobs import locks
from desktop.core.jobs.runner import run_in_child
from desktop.core.jobs.store import UNFINISHED, Job, JobSpec, JobStore
from desktop.core.settings import SettingsStore

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


@dataclass
class JobRow:
    """What the jobs table shows about one job."""

    title: str
    state: str  # running, interrupted, failed, cancelled, done
    fraction: float = 0.0
    message: str = ""
    error: HuacayaError | None = None


class JobManager(QObject):
    """All model jobs of the app; they outlive the Models window that started them."""

    changed = Signal()  # a job started, progressed, ended or was removed
    installed = Signal(str)  # model id

    def __init__(self, store: SettingsStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings_store = store
        self.store = JobStore()
        self.running: dict[str, JobProcess] = {}
        self.rows: dict[str, JobRow] = {}

    def start(self, spec: JobSpec) -> Job:
        """Start a job, or resume the interrupted one doing the same; JobBusyError when a job
        (here, in another window or in a terminal) already works on the same source."""
        interrupted = self.store.find_interrupted(spec)
        if interrupted is not None:
            self.resume(interrupted.id)
            return interrupted
        probe = Job("", spec)
        locks.ensure_free(probe.target, probe.action)
        job = self.store.create(spec)
        self._launch(job)
        return job

    def resume_unfinished(self) -> list[Job]:
        """Jobs a quit paused continue where they stopped; jobs whose process died (killed,
        crashed) are listed as interrupted (Resume or Discard), failed ones with their reason
        (Retry or Remove); finished ones are forgotten. Leftovers of dead processes go."""
        self.store.sweep()
        resumed = []
        for job in self.store.all():
            if job.id in self.running or job.running_elsewhere:
                continue  # a terminal or another window runs it
            if job.interrupted:
                message = job.interruption(self.store.disk_usage(job))
                self.rows[job.id] = JobRow(job.title, "interrupted", job.fraction, message)
            elif job.state in UNFINISHED:
                self._launch(job)
                resumed.append(job)
            elif job.state == "failed":
                self.rows[job.id] = JobRow(job.title, "failed", job.fraction, job.error)
            else:
                self.store.remove(job)
        self.changed.emit()
        return resumed

    def retry(self, job_id: str) -> None:
        """Run a failed job again from the start."""
        self._relaunch(job_id, keep_progress=False)

    def resume(self, job_id: str) -> None:
        """Continue an interrupted job where it stopped (its finished steps are kept)."""
        self._relaunch(job_id, keep_progress=True)

    def _relaunch(self, job_id: str, keep_progress: bool) -> None:
        if job_id in self.running:
            return
        try:
            job = self.store.load(job_id)
        except (OSError, ValueError, TypeError, KeyError):
            self.rows.pop(job_id, None)
            self.changed.emit()
            return
        job.state, job.error = "queued", ""
        if not keep_progress:
            job.fraction = 0.0
        self.store.save(job)
        self._launch(job)

    def discard(self, job_id: str) -> None:
        """Give up an interrupted job: its record and files go, its disk space is freed."""
        self.remove(job_id)

    def remove(self, job_id: str) -> None:
        """Forget an ended job (and its files)."""
        if job_id in self.running:
            return
        self.rows.pop(job_id, None)
        self.store.forget(job_id)
        self.changed.emit()

    def clear_finished(self) -> None:
        for job_id, row in list(self.rows.items()):
            if row.state in ("done", "cancelled"):
                self.rows.pop(job_id)
        self.changed.emit()

    def _launch(self, job: Job) -> None:
        offline = self.settings_store.settings.offline and job.spec.kind == "hub"
        models_folder = self.settings_store.settings.models_folder
        process = JobProcess(job, self.store, offline, models_folder, self)
        process.progress.connect(self._on_progress)
        process.finished.connect(self._on_finished)
        process.failed.connect(self._on_failed)
        process.cancelled.connect(self._on_cancelled)
        self.running[job.id] = process
        self.rows[job.id] = JobRow(job.title, "running", job.fraction, "starting…")
        process.start()
        self.changed.emit()

    def cancel(self, job_id: str) -> None:
        if job_id in self.running:
            self.running[job_id].cancel()
            self.rows[job_id].message = "cancelling…"
            self.changed.emit()

    def shutdown(self) -> None:
        for process in self.running.values():
            process.stop_for_quit()
        self.running.clear()

    def _on_progress(self, job_id: str, fraction: float, message: str) -> None:
        row = self.rows.get(job_id)
        if row is not None and row.state == "running":
            row.fraction, row.message = fraction, message
            self.changed.emit()

    def _on_finished(self, job_id: str, model_id: str, name: str) -> None:
        self.running.pop(job_id, None)
        self.rows[job_id] = JobRow(name, "done", 1.0, "Installed.")
        self.changed.emit()
        self.installed.emit(model_id)

    def _on_failed(self, job_id: str, error: HuacayaError) -> None:
        self.running.pop(job_id, None)
        row = self.rows.setdefault(job_id, JobRow(job_id, "failed"))
        row.state, row.error, row.message = "failed", error, str(error)
        self.changed.emit()

    def _on_cancelled(self, job_id: str) -> None:
        self.running.pop(job_id, None)
        row = self.rows.setdefault(job_id, JobRow(job_id, "cancelled"))
        row.state, row.message = "cancelled", "Cancelled; its files were removed."
        self.changed.emit()
