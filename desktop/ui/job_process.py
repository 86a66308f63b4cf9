"""Model jobs in a child process, watched from the GUI thread.

The job (download, conversion, quantization, verification) runs in a spawned process so the
window stays responsive and Cancel can stop it at once; its progress comes back through a
queue that a timer on the GUI thread drains. The job's record on disk lets it resume after the
app restarts.
"""

from __future__ import annotations

import multiprocessing
import os
import queue

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.core import paths, secrets
from desktop.core import settings as settings_store
from desktop.core.jobs import Job, JobStore, run_in_child

POLL_MS = 100


class JobProcess(QObject):
    progress = Signal(str, float, str)  # job id, fraction, message
    finished = Signal(str, str, str)  # job id, model id, model name
    failed = Signal(str, str, str)  # job id, message, hint

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
        self.process = context.Process(
            target=run_in_child,
            args=(
                job.id,
                secrets.get_token(),
                offline,
                os.environ.get(paths.HOME_ENV),
                models_folder,
                self.messages,
            ),
            daemon=False,  # it starts the quantizer's own process; stopped on quit
        )
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.done = False

    def start(self) -> None:
        self.process.start()
        self._timer.start()

    def cancel(self) -> None:
        """Stop the process now; the job's work files are removed, nothing is registered."""
        if self.done:
            return
        self.process.terminate()
        self.process.join(5)
        self._finish()
        self.job.state = "cancelled"
        self.store.remove(self.job)
        self.failed.emit(self.job.id, "Cancelled; its files were removed.", "")

    def stop_for_quit(self) -> None:
        """The app is closing: stop, but keep the files so the job resumes next time."""
        if not self.done:
            self.process.terminate()
            self.process.join(5)
            self._finish()

    def _finish(self) -> None:
        self.done = True
        self._timer.stop()

    def _poll(self) -> None:
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
            elif kind == "failed":
                self._finish()
                self.failed.emit(self.job.id, message[1], message[2])
                return
        if not self.process.is_alive() and not self.done:
            self._finish()
            self.failed.emit(
                self.job.id,
                f"The job stopped unexpectedly (exit code {self.process.exitcode}).",
                "Resume it or try again.",
            )


class JobManager(QObject):
    """All running model jobs of the app; they outlive the Models window that started them."""

    changed = Signal()  # a job started, progressed, ended
    installed = Signal(str)  # model id

    def __init__(self, settings, parent: QObject | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.settings = settings
        self.store = JobStore()
        self.running: dict[str, JobProcess] = {}
        self.status: dict[str, tuple[str, float, str]] = {}  # id → (title, fraction, message)

    def start(self, spec) -> Job:  # type: ignore[no-untyped-def]
        if spec.kind == "hub" and self.settings.offline:
            self.settings.offline = False  # starting a download is asking to go online
            settings_store.save(self.settings)
        job = self.store.create(spec)
        self._launch(job)
        return job

    def resume_unfinished(self) -> list[Job]:
        """Jobs a quit interrupted continue where they stopped."""
        for job in self.store.all():  # ended ones were reported when they ended
            if job.state not in ("queued", "running") and job.id not in self.running:
                self.store.remove(job)
        jobs = [job for job in self.store.unfinished() if job.id not in self.running]
        for job in jobs:
            self._launch(job)
        return jobs

    def _launch(self, job: Job) -> None:
        offline = self.settings.offline and job.spec.kind == "hub"
        process = JobProcess(job, self.store, offline, self.settings.models_folder, self)
        process.progress.connect(self._on_progress)
        process.finished.connect(self._on_finished)
        process.failed.connect(self._on_failed)
        self.running[job.id] = process
        self.status[job.id] = (job.title, job.fraction, "starting…")
        process.start()
        self.changed.emit()

    def cancel(self, job_id: str) -> None:
        if job_id in self.running:
            self.running[job_id].cancel()

    def shutdown(self) -> None:
        for process in self.running.values():
            process.stop_for_quit()
        self.running.clear()

    def _on_progress(self, job_id: str, fraction: float, message: str) -> None:
        title = self.status.get(job_id, ("", 0.0, ""))[0]
        self.status[job_id] = (title, fraction, message)
        self.changed.emit()

    def _on_finished(self, job_id: str, model_id: str, name: str) -> None:
        self.running.pop(job_id, None)
        self.status[job_id] = (name, 1.0, "installed")
        self.changed.emit()
        self.installed.emit(model_id)

    def _on_failed(self, job_id: str, message: str, hint: str) -> None:
        self.running.pop(job_id, None)
        title = self.status.get(job_id, ("", 0.0, ""))[0]
        self.status[job_id] = (title, 0.0, f"{message} {hint}".strip())
        self.changed.emit()
