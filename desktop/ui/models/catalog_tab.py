"""The Models window's Catalogue tab: models that run well on a laptop, each with what it is good
for, a filter that keeps the rows matching every word typed (name, family, repository, licence,
format or description), and Download with the quantization chosen."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core import hardware
from desktop.core.jobs.store import JobSpec
from desktop.core.models.catalog import CatalogEntry, job_spec, load_catalog
from desktop.ui import dialogs
from desktop.ui.models.widgets import quant_box, table

COLUMNS = ["Model", "Format", "Download", "Memory", "Licence", "Fits", "As a teacher"]
TEACHER_TIPS = {  # what a model of its size does as the teacher that writes instruction data
    "good": "Writes instruction data worth training on (3B parameters or more).",
    "fair": "Writes usable instruction data; expect more records dropped by the filters.",
    "poor": "Most of what it writes as a teacher is dropped or wrong: use a larger one.",
    "": "Its size is not stated.",
}


def _searchable(entry: CatalogEntry) -> str:
    return " ".join(
        (entry.name, entry.family, entry.repo, entry.format, entry.licence, entry.description)
    ).lower()


class CatalogTab(QWidget):
    start_requested = Signal(object)  # JobSpec
    error = Signal(object)  # an exception to show

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = load_catalog()
        layout = QVBoxLayout(self)
        total = hardware.total_memory_bytes() / 1e9
        intro = QLabel(
            f"Models that run well on a laptop. This computer has {total:.0f} GB of memory."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.filter_box = QLineEdit()
        self.filter_box.setObjectName("catalogFilter")
        self.filter_box.setPlaceholderText("Filter: a name, family or task, e.g. qwen, tiny, code")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.apply_filter)
        layout.addWidget(self.filter_box)
        self.table = table(COLUMNS)
        self.table.setObjectName("catalogTable")
        for entry in self.catalog:
            self._add_row(entry)
        self.table.currentCellChanged.connect(lambda *_: self._describe())
        layout.addWidget(self.table, 1)
        self.description = QLabel()
        self.description.setObjectName("catalogDescription")
        self.description.setWordWrap(True)
        layout.addWidget(self.description)
        row = QHBoxLayout()
        self.quant = quant_box()
        row.addWidget(QLabel("Quantization"))
        row.addWidget(self.quant)
        row.addStretch(1)
        download = QPushButton("Download")
        download.setObjectName("catalogDownload")
        download.clicked.connect(self.download)
        row.addWidget(download)
        layout.addLayout(row)
        self._describe()

    def _add_row(self, entry: CatalogEntry) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        fits = entry.fits()
        cells = [
            entry.name + (" (needs a token)" if entry.token else ""),
            entry.format,
            f"{entry.download_gb:g} GB",
            f"{entry.ram_gb:g} GB",
            entry.licence,
            "✓ fits" if fits else "needs more memory",
            f"{entry.teacher_grade} ({entry.params_b:g}B)",
        ]
        tip = " ".join(t for t in (entry.description, entry.notes) if t)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tip + (f" Needs: {entry.base}." if entry.base else ""))
            if column == 6:
                item.setToolTip(TEACHER_TIPS[entry.teacher_grade])
            if column == 5 and not fits:
                item.setForeground(QColor("#c0392b"))
            self.table.setItem(row, column, item)

    def apply_filter(self, text: str) -> None:
        words = text.lower().split()
        shown = 0
        for row, entry in enumerate(self.catalog):
            hidden = not all(word in _searchable(entry) for word in words)
            self.table.setRowHidden(row, hidden)
            shown += not hidden
        current = self.table.currentRow()
        if current >= 0 and self.table.isRowHidden(current):
            self.table.setCurrentCell(-1, -1)
        self._describe(f"No model in the catalogue matches “{text.strip()}”." if not shown else "")

    def selected(self) -> CatalogEntry | None:
        row = self.table.currentRow()
        if row < 0 or self.table.isRowHidden(row):
            return None
        return self.catalog[row]

    def _describe(self, instead: str = "") -> None:
        entry = self.selected()
        if instead or entry is None:
            self.description.setText(instead or "Choose a model to read what it is good for.")
            return
        parts = [f"<b>{entry.name}</b>: {entry.description}", entry.notes]
        if entry.base:
            parts.append(f"Needs: {entry.base}.")
        self.description.setText(" ".join(p for p in parts if p))

    def download(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        quant = self.quant.currentData()
        if entry.needs_base_folder:
            dialogs.choose_folder(
                self,
                f"{entry.name} needs {entry.base}: choose that folder",
                lambda folder: self._start(entry, quant, str(folder)),
            )
        else:
            self._start(entry, quant, "")

    def _start(self, entry: CatalogEntry, quant: str, base_folder: str) -> None:
        try:
            spec: JobSpec = job_spec(entry, quant, base_folder)
        except HuacayaError as exc:
            self.error.emit(exc)
            return
        self.start_requested.emit(spec)
