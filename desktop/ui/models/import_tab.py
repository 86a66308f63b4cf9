"""The Models window's Import tab: a GGUF file, an HF folder, a LoRA adapter or a weight diff.

Import asks for the model's name first, suggested from what a GGUF says of itself (its name,
size and quantization) or from the folder's name. A GGUF the library has already (the same
content, under any name) is not copied again: the tab says under which name it is installed.
"""

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

from conversion.errors import LibraryError
from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken, Progress
from desktop.core.jobs.store import JobSpec
from desktop.core.models.library import ModelEntry, ModelLibrary, suggested_name
from desktop.ui import dialogs
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.models.widgets import quant_box


class ImportTab(QWidget):
    start_requested = Signal(object)  # JobSpec
    error = Signal(object)  # an exception to show

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.checking: Task | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Import a GGUF file, a Hugging Face checkpoint folder, a LoRA adapter (with its "
            "base model folder) or an Alpaca weight diff (with LLaMA-7B in HF format)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
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
        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("importButton")
        self.import_button.clicked.connect(self.start_import)
        row.addWidget(self.import_button)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("importStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _browse(self, target: QLineEdit, file: bool) -> None:
        def chosen(path: Path) -> None:
            target.setText(str(path))

        if file:
            dialogs.open_file(self, "GGUF file", chosen, "GGUF models (*.gguf)")
        else:
            dialogs.choose_folder(self, "Folder", chosen)

    def start_import(self) -> None:
        """Check a GGUF first (its name, and whether it is installed already), then ask the
        model's name; a folder's name is asked at once (the job checks the folder)."""
        text = self.import_path.text().strip()
        if not text or self.checking is not None:
            return
        path = Path(text).expanduser()
        quant = self.import_quant.currentData()
        if not path.exists():
            self.error.emit(LibraryError(f"“{path}” does not exist.", "Check the path."))
            return
        if path.suffix.lower() != ".gguf" or not path.is_file():
            quant_label = f" {quant.upper()}" if quant else ""
            self._ask_name(path, (path.name or text) + quant_label, quant)
            return

        def check(progress: Progress, cancel: CancelToken) -> tuple[str, ModelEntry | None]:
            progress(0.0, f"Reading {path.name}…")
            name = suggested_name(read_gguf_info(path))
            return name, self.library.find_copy(path, progress, cancel)

        self.import_button.setEnabled(False)
        self.checking = run_in_background(
            check,
            lambda found: self._checked(path, *found),
            self._failed,
            on_progress=lambda fraction, message: self.status.setText(
                f"{message} {fraction:.0%}" if fraction else message
            ),
            owner=self,
        )
        self.checking.ended.connect(self._check_ended)

    def _check_ended(self) -> None:
        self.checking = None
        self.import_button.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText("")
        self.error.emit(exc)

    def _checked(self, path: Path, name: str, copy: ModelEntry | None) -> None:
        if copy is not None:
            self.status.setText(f"Already installed as “{copy.name}”: nothing was imported.")
            dialogs.inform(
                self,
                f"“{path.name}” is already installed as “{copy.name}”. Nothing was copied: "
                "pick it in the model list.",
                "Already installed",
            ).setObjectName("alreadyInstalledDialog")
            return
        self.status.setText("")
        self._ask_name(path, name, "")  # a GGUF is kept as it is; quantize it later if wanted

    def _ask_name(self, path: Path, suggestion: str, quant: str) -> None:
        base = self.import_base.text().strip()

        def named(name: str) -> None:
            name = name.strip()
            if name:
                self.start_requested.emit(
                    JobSpec("import", str(path), name=name, quant=quant, base=base)
                )

        dialogs.ask_text(
            self,
            "Import model",
            "Name in your model list:",
            suggestion,
            named,
            "importNameDialog",
        )
