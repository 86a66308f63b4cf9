"""The list of model jobs under the Models window: progress, how each ended and why, and what
can be done about it (Cancel a running job; Resume or Discard one whose process died, with the
disk space it holds; Retry or Remove one that failed; Clear finished)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.models.jobs import JobManager, JobRow
from desktop.ui.models.widgets import table

STATE_LABELS = {
    "interrupted": "Interrupted",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "done": "Installed",
}


def _button(text: str, slot) -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)
    button.clicked.connect(lambda _checked=False: slot())
    return button


class JobsTable(QWidget):
    """The JobManager's rows. A row is rebuilt only when its job's state changes; progress only
    moves its bar and message, so a button is never replaced under the pointer."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.table = table(["Job", "Progress", "Status", ""])
        self.table.setObjectName("jobsTable")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 220)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(1, 130)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the reason, in full
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        # a reason wrapped in a narrow column is unwrapped again when the window grows
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        self.table.setMaximumHeight(170)
        # rows grow with long reasons and large fonts: scroll by pixels, never skip a button
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setWordWrap(True)
        self.clear_button = _button("Clear finished", jobs.clear_finished)
        self.clear_button.setObjectName("clearFinishedJobs")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.clear_button)
        layout.addLayout(row)
        self._shown: list[tuple[str, str]] = []  # (job id, state) of each row
        jobs.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        rows = list(self.jobs.rows.items())
        shown = [(job_id, job.state) for job_id, job in rows]
        if shown != self._shown:
            self._rebuild(rows)
            self._shown = shown
        for row, (_job_id, job) in enumerate(rows):
            bar = self.table.cellWidget(row, 1)
            if isinstance(bar, QProgressBar):
                bar.setValue(int(job.fraction * 100))
            status = self.table.item(row, 2)
            if status is not None and status.text() != job.message:
                status.setText(job.message)
                status.setToolTip(job.message)
        self.clear_button.setEnabled(
            any(job.state in ("done", "cancelled") for job in self.jobs.rows.values())
        )

    def _rebuild(self, rows: list[tuple[str, JobRow]]) -> None:
        self.table.setRowCount(0)
        for job_id, job in rows:
            row = self.table.rowCount()
            self.table.insertRow(row)
            title = QTableWidgetItem(job.title)
            title.setToolTip(job.title)
            self.table.setItem(row, 0, title)
            self.table.setCellWidget(row, 1, self._progress(job))
            self.table.setItem(row, 2, QTableWidgetItem(job.message))
            self.table.setCellWidget(row, 3, self._actions(job_id, job))
        self.table.resizeRowsToContents()

    def _progress(self, job: JobRow) -> QWidget:
        if job.state == "running":
            bar = QProgressBar()
            bar.setValue(int(job.fraction * 100))
            return bar
        label = QLabel(STATE_LABELS.get(job.state, job.state))
        label.setObjectName(f"job-{job.state}")
        return label

    def _actions(self, job_id: str, job: JobRow) -> QWidget:
        cell = QWidget()
        layout = QHBoxLayout(cell)
        layout.setContentsMargins(2, 0, 2, 0)
        if job.state == "running":
            layout.addWidget(_button("Cancel", lambda: self.jobs.cancel(job_id)))
        elif job.state == "interrupted":  # its files are kept: continue, or free the space
            layout.addWidget(_button("Resume", lambda: self.jobs.resume(job_id)))
            layout.addWidget(_button("Discard", lambda: self.jobs.discard(job_id)))
        else:
            if job.state == "failed":  # its record is kept to retry; a cancelled one is gone
                layout.addWidget(_button("Retry", lambda: self.jobs.retry(job_id)))
            layout.addWidget(_button("Remove", lambda: self.jobs.remove(job_id)))
        return cell
