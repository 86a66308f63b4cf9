"""The app's model jobs: start one (or resume the interrupted one doing the same), resume what a
quit paused, retry, discard, cancel; and the rows the Models window shows. They outlive the
Models window that started them. Each job runs in its own child process
(``desktop/ui/background/job_process.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from conversion.errors import HuacayaError
from desktop.core.jobs import locks
from desktop.core.jobs.store import UNFINISHED, Job, JobSpec, JobStore
from desktop.core.settings import SettingsStore
from desktop.ui.background.job_process import JobProcess


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
