"""The list of model jobs under the Models window: progress and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QPushButton, QTableWidgetItem

from desktop.ui.job_process import JobManager
from desktop.ui.model_widgets import table


class JobsTable:
    """Fills a table from the JobManager's status; rebuilt on every change (a few rows)."""

    def __init__(self, jobs: JobManager) -> None:
        self.jobs = jobs
        self.table = table(["Job", "Progress", "Status", ""])
        self.table.setMaximumHeight(150)
        jobs.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.table.setRowCount(0)
        for job_id, (title, fraction, message) in self.jobs.status.items():
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QTableWidgetItem(title))
            bar = QProgressBar()
            bar.setValue(int(fraction * 100))
            self.table.setCellWidget(row, 1, bar)
            status = QTableWidgetItem(message)
            status.setToolTip(message)
            self.table.setItem(row, 2, status)
            if job_id in self.jobs.running:
                cancel = QPushButton("Cancel")
                cancel.clicked.connect(lambda _=False, j=job_id: self.jobs.cancel(j))
                self.table.setCellWidget(row, 3, cancel)
