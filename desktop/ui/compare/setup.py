"""The first page: the two sides, the instruction set and how long an answer may be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.evaluation.answerers import AnswerSettings
from desktop.core.models.library import ModelLibrary
from desktop.ui import dialogs

MODEL, FILE = "model:", "file:"  # a side's data in its drop-down: what it is, then which
ANSWER_FILES = "Answer files (*.jsonl *.json);;All files (*)"
INSTRUCTION_SETS = "Instruction sets (*.jsonl *.json *.txt);;All files (*)"


@dataclass(frozen=True)
class Choice:
    """What the person picked: two side specs (for ``answer_set_for``) and the set."""

    first: str
    second: str
    prompts: Path
    settings: AnswerSettings


class SidePicker(QComboBox):
    """Installed models, the answer files chosen so far, and "Answer file…" to choose one."""

    def __init__(self, library: ModelLibrary, default: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        entries = library.entries()
        names = [e.name for e in entries]
        for entry in entries:
            # The side's spec: its name where that is unambiguous (it is the name shown in the
            # results), else its id.
            spec = entry.name if names.count(entry.name) == 1 else entry.id
            self.addItem(f"{entry.name}  ({entry.quantization or 'model'})", MODEL + spec)
        self.addItem("Answer file…", FILE)
        self.setCurrentIndex(min(default, max(0, len(entries) - 1)))
        self._last = self.currentIndex()
        self.activated.connect(self._on_activated)

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) != FILE:
            self._last = index
            return
        self.setCurrentIndex(self._last)  # until a file is chosen
        dialogs.open_file(self, "Choose an answer file", self.add_file, ANSWER_FILES)

    def add_file(self, path: Path) -> None:
        data = FILE + str(path)
        index = self.findData(data)
        if index < 0:
            index = self.count() - 1
            self.insertItem(index, f"Answers: {path.name}", data)
        self.setCurrentIndex(index)
        self._last = index

    @property
    def spec(self) -> str:
        return str(self.currentData()).split(":", 1)[1]


class SetupPage(QWidget):
    start_requested = Signal(object)  # Choice

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first = SidePicker(library, 0, self)
        self.first.setObjectName("firstSide")
        self.second = SidePicker(library, 1, self)
        self.second.setObjectName("secondSide")
        self.prompts = QLineEdit(self)
        self.prompts.setObjectName("instructionSet")
        self.prompts.setPlaceholderText("an Alpaca JSON/JSONL, Self-Instruct JSONL or .txt file")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._browse)
        prompts_row = QHBoxLayout()
        prompts_row.addWidget(self.prompts, 1)
        prompts_row.addWidget(browse)
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setObjectName("maxTokens")
        self.max_tokens.setRange(8, 8192)
        self.max_tokens.setValue(AnswerSettings().max_tokens)
        self.max_tokens.setSuffix(" tokens")

        form = QFormLayout()
        form.addRow("First side", self.first)
        form.addRow("Second side", self.second)
        form.addRow("Instructions", prompts_row)
        form.addRow("Longest answer", self.max_tokens)
        explain = QLabel(
            "Each model answers every instruction (greedy, with its own chat template; answers "
            "are cached, so a second time is instant). Then each item shows the two answers "
            "as A and B in a random order, names hidden, until you ask for the results. Votes "
            "are saved as you cast them: picking the same sides and set again resumes.",
            self,
        )
        explain.setWordWrap(True)
        self.message = QLabel(self)
        self.message.setObjectName("setupMessage")
        self.message.setWordWrap(True)
        self.start = QPushButton("Answer and compare", self)
        self.start.setObjectName("startComparison")
        self.start.setDefault(True)
        self.start.clicked.connect(self._on_start)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(explain)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addLayout(buttons)

    def _browse(self) -> None:
        current = Path(self.prompts.text().strip()).expanduser()
        start = current.parent if current.parent.is_dir() else None
        dialogs.open_file(
            self,
            "Choose an instruction set",
            lambda path: self.prompts.setText(str(path)),
            INSTRUCTION_SETS,
            start,
        )

    def _on_start(self) -> None:
        text = self.prompts.text().strip()
        if not text:
            self.message.setText("Choose an instruction set first (a file of instructions).")
            return
        path = Path(text).expanduser()
        if not path.is_file():
            self.message.setText(f"“{path}” is not a file. Choose an instruction set.")
            return
        if self.first.currentData() == self.second.currentData():
            self.message.setText("Both sides are the same: choose two different sides.")
            return
        self.message.clear()
        settings = AnswerSettings(max_tokens=self.max_tokens.value())
        self.start_requested.emit(Choice(self.first.spec, self.second.spec, path, settings))
