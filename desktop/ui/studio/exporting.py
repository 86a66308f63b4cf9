"""What the Compare and Use steps share: the finished-run picker and the export with progress.

Exporting runs as a background task (``ui/background/tasks.py``), not a job process: its work,
``core/studio/finished.export_run``, is torch-free; the in-process part is our converter (numpy,
a minute for a small model, cancelled between tensors), and llama.cpp's quantizing and the
answer check already run in the import job's own child process, which Cancel interrupts and
which removes its files. Nothing is half-installed if the window closes meanwhile; quitting the
app stops the export and waits for it to clean up (``ExportPanel.shutdown``)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core.models.library import ModelLibrary
from desktop.core.studio.finished import (
    Export,
    FinishedRun,
    check_model_name,
    export_run,
    finished_runs,
)
from desktop.core.studio.project import StudioProject
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.errors import show_error

NO_RUN = "No finished training run yet: train one in step 2."
SHUTDOWN_WAIT_S = 30.0  # converting stops between tensors; the import job within seconds

log = logging.getLogger(__name__)


class RunPicker(QComboBox):
    """The project's finished runs, the most recent first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Training run")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(30)
        self.runs: list[FinishedRun] = []

    def fill(self, project: StudioProject | None) -> None:
        """List ``project``'s runs again, keeping the one chosen where it is still there."""
        chosen = self.run.name if self.run is not None else ""
        self.runs = finished_runs(project) if project is not None else []
        self.blockSignals(True)
        self.clear()
        for run in self.runs:
            self.addItem(run.describe(), run.name)
        if not self.runs:
            self.addItem(NO_RUN, "")
        index = self.findData(chosen) if chosen else -1
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)
        self.setEnabled(bool(self.runs))
        self.currentIndexChanged.emit(self.currentIndex())

    @property
    def run(self) -> FinishedRun | None:
        name = self.currentData()
        return next((r for r in getattr(self, "runs", []) if r.name == name), None)


class ExportPanel(QWidget):
    """A run's export into the library: a progress line, a bar and Cancel, shown while it runs.
    ``exported`` is emitted with the new model; ``ended`` after any outcome."""

    exported = Signal(object)  # Export
    ended = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None
        self.message = QLabel(self)
        self.message.setObjectName("exportMessage")
        self.message.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setAccessibleName("Export progress")
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setObjectName("cancelExport")
        self.cancel.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addLayout(row)
        self._running(False)

    @property
    def busy(self) -> bool:
        return self.task is not None

    def _running(self, running: bool) -> None:
        self.setVisible(running or bool(self.message.text()))  # no empty gap when idle
        self.bar.setVisible(running)
        self.cancel.setVisible(running)
        self.cancel.setEnabled(running)

    def start(
        self,
        project: StudioProject,
        run: FinishedRun,
        quantization: str,
        name: str,
        library: ModelLibrary,
    ) -> bool:
        """Start adding ``run`` to ``library`` as ``name``; False (and the reason shown) where
        the name is refused before any work: one already in the library, or none."""
        try:
            name = check_model_name(name, library)
        except HuacayaError as exc:
            show_error(self, exc)
            return False
        self.bar.setValue(0)
        self.message.setText(f"Adding “{name}” ({quantization.upper()}) to your models…")
        self._running(True)
        self.task = run_in_background(
            lambda progress, cancel: export_run(
                project, run, quantization, name, progress, cancel, library
            ),
            on_success=self._on_done,
            on_failure=self._on_failed,
            on_progress=self._on_progress,
            on_cancelled=self._on_cancelled,
            owner=self,
        )
        return True

    def shutdown(self) -> None:
        """The app is quitting: stop the export and wait (a few seconds) until it has ended,
        its temporary GGUF and the import job's files removed, so that nothing half-made is
        left in the library or beside the run, and the next start finds none of it."""
        task = self.task
        if task is None:
            return
        task.cancel()
        if not task.wait(SHUTDOWN_WAIT_S):
            log.warning("the export did not stop within %.0f s of quitting", SHUTDOWN_WAIT_S)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(round(fraction * 1000))
        if message:
            self.message.setText(message[:1].upper() + message[1:])

    def stop(self) -> None:
        """Cancel the export (its Cancel button; quitting): ``ended`` follows once it has
        cleaned up."""
        if self.task is not None:
            self.message.setText("Stopping…")
            self.cancel.setEnabled(False)
            self.task.cancel()

    def _finish(self, text: str) -> None:
        self.task = None
        self.message.setText(text)
        self._running(False)
        self.ended.emit()

    def _on_done(self, export: Export) -> None:
        self._finish(f"Added to your models as “{export.name}” ({export.quantization.upper()}).")
        self.exported.emit(export)

    def _on_failed(self, exc: BaseException) -> None:
        self._finish("The model was not added.")
        show_error(self, exc)

    def _on_cancelled(self) -> None:
        self._finish("Cancelled: nothing was added to your models.")
