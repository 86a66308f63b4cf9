"""The Models window's Import tab: a GGUF file, an HF folder, a LoRA adapter or a weight diff."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.jobs.store import JobSpec
from desktop.ui import dialogs
from desktop.ui.models.widgets import quant_box


class ImportTab(QWidget):
    start_requested = Signal(object)  # JobSpec

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Import a GGUF file, a Hugging Face checkpoint folder, a LoRA adapter (with its "
                "base model folder) or an Alpaca weight diff (with LLaMA-7B in HF format)."
            )
        )
        self.import_path = QLineEdit()
        self.import_path.setPlaceholderText("File or folder to import")
        self.import_base = QLineEdit()
        self.import_base.setPlaceholderText("Base model folder (LoRA adapter or weight diff only)")
        self.import_quant = quant_box()
        for widget, browse in ((self.import_path, True), (self.import_base, False)):
            row = QHBoxLayout()
            row.addWidget(widget, 1)
            if browse:
                file_button = QPushButton("File…")
                file_button.clicked.connect(lambda: self._browse(self.import_path, True))
                row.addWidget(file_button)
            folder_button = QPushButton("Folder…")
            folder_button.clicked.connect(lambda _=False, w=widget: self._browse(w, False))
            row.addWidget(folder_button)
            layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Quantization"))
        row.addWidget(self.import_quant)
        row.addStretch(1)
        start = QPushButton("Import")
        start.setObjectName("importButton")
        start.clicked.connect(self.start_import)
        row.addWidget(start)
        layout.addLayout(row)
        layout.addStretch(1)

    def _browse(self, target: QLineEdit, file: bool) -> None:
        def chosen(path: Path) -> None:
            target.setText(str(path))

        if file:
            dialogs.open_file(self, "GGUF file", chosen, "GGUF models (*.gguf)")
        else:
            dialogs.choose_folder(self, "Folder", chosen)

    def start_import(self) -> None:
        path = self.import_path.text().strip()
        if path:
            quant = self.import_quant.currentData()
            if path.endswith(".gguf"):
                quant = ""  # keep a GGUF as it is; quantize it later if wanted
            self.start_requested.emit(
                JobSpec("import", path, quant=quant, base=self.import_base.text().strip())
            )
