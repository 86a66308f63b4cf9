"""The Use step of the "Make your own" window: a finished run into the library (the chosen
quantization and name), then into the chat window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.studio.finished import DEFAULT_QUANTIZATION, QUANTIZATIONS, Export, model_of
from desktop.core.studio.project import StudioProject
from desktop.ui.studio.exporting import ExportPanel, RunPicker
from desktop.ui.studio.parts import StudioParts


class UseStep(QWidget):
    chat_opened = Signal()  # the model was chosen in the chat window, which should be in front

    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        self.project: StudioProject | None = None
        intro = QLabel(
            "Add a finished training run to your models, then chat with it in the main window. "
            "A LoRA is merged into its base model first.",
            self,
        )
        intro.setWordWrap(True)
        self.runs = RunPicker(self)
        self.runs.setObjectName("useRun")
        self.runs.currentIndexChanged.connect(self._refresh)
        self.quantization = QComboBox(self)
        self.quantization.setObjectName("useQuantization")
        self.quantization.setAccessibleName("Quantization")
        # the list says the bits; what they mean for this model is said in full below it (the
        # whole sentence in the box was cut off in a small window at a large font)
        for kind, words in QUANTIZATIONS:
            self.quantization.addItem(f"{kind.upper()} — {words.split(':')[0]}", kind)
            self.quantization.setItemData(
                self.quantization.count() - 1, words, Qt.ItemDataRole.ToolTipRole
            )
        self.quantization.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.quantization.setMinimumContentsLength(20)
        self.quantization_words = QLabel(self)
        self.quantization_words.setObjectName("quantizationWords")
        self.quantization_words.setWordWrap(True)
        self.quantization.currentIndexChanged.connect(self._say_quantization)
        self.quantization.setCurrentIndex(self.quantization.findData(DEFAULT_QUANTIZATION))
        self._say_quantization()
        self.name = QLineEdit(self)
        self.name.setObjectName("useName")
        self.name.setAccessibleName("Name in your models")
        self.name.textChanged.connect(self._refresh)
        form = QFormLayout()
        form.addRow("Training run", self.runs)
        form.addRow("Quantization", self.quantization)
        form.addRow("", self.quantization_words)
        form.addRow("Name", self.name)
        explain = QLabel(
            "Fewer bits make a smaller, faster model whose answers drift further from the "
            "trained one. Q8_0 keeps what was learnt; below 4 bits a small model suffers.",
            self,
        )
        explain.setWordWrap(True)
        self.state = QLabel(self)
        self.state.setObjectName("useState")
        self.state.setWordWrap(True)
        self.panel = ExportPanel(self)
        self.panel.exported.connect(self._on_exported)
        self.panel.ended.connect(self._refresh)
        self.add = QPushButton("Add to my models", self)
        self.add.setObjectName("addToModels")
        self.add.clicked.connect(self._export)
        self.chat = QPushButton("Chat with it", self)
        self.chat.setObjectName("chatWithIt")
        self.chat.clicked.connect(self._chat)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add)
        buttons.addWidget(self.chat)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(explain)
        layout.addWidget(self.state)
        layout.addWidget(self.panel)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self._refresh()

    def _say_quantization(self) -> None:
        words = str(self.quantization.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        meaning = words.partition(":")[2].strip() or words  # the bits are in the box above
        self.quantization_words.setText(meaning[:1].upper() + meaning[1:] + "." if meaning else "")

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
        self.name.setText(project.name if project is not None else "")
        self.runs.fill(project)

    def showEvent(self, event: QShowEvent) -> None:
        """A run may have finished (or a model been removed) since the step was last shown."""
        super().showEvent(event)
        if not self.panel.busy:
            self.runs.fill(self.project)

    @property
    def export(self) -> Export | None:
        """What the chosen run became in the library, if it is still there."""
        run = self.runs.run
        if self.project is None or run is None:
            return None
        return model_of(self.project, run.name, self.parts.library)

    def _refresh(self) -> None:
        export, busy = self.export, self.panel.busy
        run = self.runs.run
        self.add.setEnabled(run is not None and not busy and bool(self.name.text().strip()))
        self.chat.setEnabled(export is not None and not busy)
        if run is None:
            self.state.setText("")
        elif export is not None:
            self.state.setText(
                f"This run is in your models as “{export.name}” ({export.quantization.upper()}). "
                "To add it again (in another quantization), give it another name."
            )
        else:
            self.state.setText("This run is not in your models yet.")

    def _export(self) -> None:
        run = self.runs.run
        if self.project is None or run is None or self.panel.busy:
            return
        quantization = str(self.quantization.currentData())
        self.panel.start(self.project, run, quantization, self.name.text(), self.parts.library)
        self._refresh()

    def _on_exported(self, export: Export) -> None:
        self._refresh()

    def _chat(self) -> None:
        export = self.export
        if export is not None:
            self.parts.select_in_chat(export.model_id)
            self.chat_opened.emit()
