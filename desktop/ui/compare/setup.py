"""The first page: the two sides, the instruction set, how many of its questions and how long
an answer may be.

A side is an installed model, an answer file, text-davinci-003's published answers (downloaded
when needed) or an OpenAI-compatible endpoint; the set is the Self-Instruct user-oriented set
(downloaded when needed) or a file. What each choice stands for is a spec of
``desktop.core.evaluation`` (``answer_set_for``, ``prompts_path``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.evaluation.answerers import AnswerSettings
from desktop.core.evaluation.published import SELF_INSTRUCT, TEXT_DAVINCI_003
from desktop.core.evaluation.sides import is_answer_file
from desktop.core.models.library import ModelLibrary
from desktop.ui import dialogs
from desktop.ui.compare.endpoint import ask_endpoint

# An entry's data in its drop-down: what it is, then which.
MODEL, FILE, PUBLISHED, ENDPOINT = "model:", "file:", "published:", "endpoint:"
ADD_FILE, ADD_ENDPOINT = "add:file", "add:endpoint"  # entries that ask for one
ANSWER_FILES = "Answer files (*.jsonl *.json);;All files (*)"
INSTRUCTION_SETS = "Instruction sets (*.jsonl *.json *.txt);;All files (*)"
SELF_INSTRUCT_LABEL = "Self-Instruct user-oriented (252, downloaded when needed)"
DAVINCI_LABEL = "text-davinci-003 (published answers)"


@dataclass(frozen=True)
class Side:
    """One side as ``answer_set_for`` takes it: a spec, and an endpoint's server."""

    spec: str
    base_url: str = ""


@dataclass(frozen=True)
class Choice:
    """What the person picked: the two sides, the set (a file, or a published set's name), how
    many of its questions (None: all) and the answering settings."""

    first: Side
    second: Side
    prompts: str
    settings: AnswerSettings
    limit: int | None = None


class _Picker(QComboBox):
    """A drop-down whose "…" entries ask for something (a file, an endpoint) and add it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._last = 0
        self.activated.connect(self._on_activated)
        # As narrow as the window needs (a long path or URL is elided, its list shows it whole).
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(24)

    def _ask(self, data: str) -> None:
        """Open the question for the "add" entry ``data`` (it adds the answer)."""
        raise NotImplementedError

    def _on_activated(self, index: int) -> None:
        data = str(self.itemData(index))
        if not data.startswith("add:"):
            self._last = index
            return
        self.setCurrentIndex(self._last)  # until the question is answered
        # Asked once the list has closed (a dialog opened inside the list's own click would
        # meet the rest of that click).
        QTimer.singleShot(0, self, lambda: self._ask(data))

    def add_entry(self, text: str, data: str) -> None:
        index = self.findData(data)
        if index < 0:
            index = self._first_add_entry()
            self.insertItem(index, text, data)
        self.setCurrentIndex(index)
        self._last = index

    def _first_add_entry(self) -> int:
        return next(
            (i for i in range(self.count()) if str(self.itemData(i)).startswith("add:")),
            self.count(),
        )


class SidePicker(_Picker):
    """Installed models, text-davinci-003's published answers, the answer files and endpoints
    chosen so far, then "Answer file…" and "OpenAI-compatible endpoint…" to add one."""

    def __init__(self, library: ModelLibrary, default: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        entries = library.entries()
        names = [e.name for e in entries]
        for entry in entries:
            # The side's spec: its name where that is unambiguous (it is the name shown in the
            # results), else its id.
            spec = entry.name if names.count(entry.name) == 1 else entry.id
            self.addItem(f"{entry.name}  ({entry.quantization or 'model'})", MODEL + spec)
        self.addItem(DAVINCI_LABEL, PUBLISHED + TEXT_DAVINCI_003.name)
        self.addItem("Answer file…", ADD_FILE)
        self.addItem("OpenAI-compatible endpoint…", ADD_ENDPOINT)
        self.setCurrentIndex(min(default, max(0, len(entries) - 1)))
        self._last = self.currentIndex()

    def _ask(self, data: str) -> None:
        if data == ADD_FILE:
            dialogs.open_file(self, "Choose an answer file", self.add_file, ANSWER_FILES)
        else:
            ask_endpoint(self, self.add_endpoint)

    def add_file(self, path: Path) -> None:
        self.add_entry(f"Answers: {path.name}", FILE + str(path))

    def add_endpoint(self, base_url: str, model: str) -> None:
        self.add_entry(f"{model} at {base_url}", ENDPOINT + json.dumps([base_url, model]))

    @property
    def side(self) -> Side:
        kind, _, value = str(self.currentData()).partition(":")
        if kind + ":" == ENDPOINT:
            base_url, model = json.loads(value)
            return Side(f"openai:{model}", base_url)
        return Side(value)


class SetPicker(_Picker):
    """The Self-Instruct user-oriented set (downloaded when needed), the files chosen so far,
    and "Instruction file…" to choose one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItem(SELF_INSTRUCT_LABEL, PUBLISHED + SELF_INSTRUCT.name)
        self.addItem("Instruction file…", ADD_FILE)

    def _ask(self, data: str) -> None:
        dialogs.open_file(self, "Choose an instruction set", self.add_file, INSTRUCTION_SETS)

    def add_file(self, path: Path) -> None:
        self.add_entry(path.name, FILE + str(path))

    @property
    def spec(self) -> str:
        return str(self.currentData()).split(":", 1)[1]

    @property
    def is_file(self) -> bool:
        return str(self.currentData()).startswith(FILE)


class SetupPage(QWidget):
    start_requested = Signal(object)  # Choice

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first = SidePicker(library, 0, self)
        self.first.setObjectName("firstSide")
        self.second = SidePicker(library, 1, self)
        self.second.setObjectName("secondSide")
        self.prompts = SetPicker(self)
        self.prompts.setObjectName("instructionSet")
        self.limit = QSpinBox(self)
        self.limit.setObjectName("questionLimit")
        self.limit.setRange(0, 100_000)
        self.limit.setSpecialValueText("all")
        self.limit.setPrefix("first ")
        self.limit.setToolTip("Answer and compare only the first N questions of the set.")
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setObjectName("maxTokens")
        self.max_tokens.setRange(8, 8192)
        self.max_tokens.setValue(AnswerSettings().max_tokens)
        self.max_tokens.setSuffix(" tokens")

        form = QFormLayout()
        form.addRow("First side", self.first)
        form.addRow("Second side", self.second)
        form.addRow("Instructions", self.prompts)
        form.addRow("Questions", self.limit)
        form.addRow("Longest answer", self.max_tokens)
        explain = QLabel(
            "Each model answers every instruction (greedy, with its own chat template; answers "
            "are cached, so a second time is instant). Then each item shows the two answers "
            "as A and B in a random order, names hidden, until you ask for the results. Votes "
            "are saved as you cast them: picking the same sides and set again resumes. The "
            "Self-Instruct set and text-davinci-003's answers come from the Self-Instruct "
            "paper's repository the first time (under 0.5 MB), then from the cache.",
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

    def show_choice(self, choice: Choice) -> None:
        """Show ``choice`` in the pickers (a file set or side not listed yet is added)."""
        for picker, side in ((self.first, choice.first), (self.second, choice.second)):
            if side.base_url:
                picker.add_endpoint(side.base_url, side.spec.removeprefix("openai:"))
            elif picker.findData(MODEL + side.spec) >= 0:
                picker.add_entry("", MODEL + side.spec)
            elif is_answer_file(side.spec):
                picker.add_file(Path(side.spec))
            else:  # a .gguf path
                picker.add_entry(Path(side.spec).name, MODEL + side.spec)
        if self.prompts.findData(PUBLISHED + choice.prompts) >= 0:
            self.prompts.add_entry("", PUBLISHED + choice.prompts)
        else:
            self.prompts.add_file(Path(choice.prompts))
        self.limit.setValue(choice.limit or 0)
        self.max_tokens.setValue(choice.settings.max_tokens)

    def _on_start(self) -> None:
        if self.prompts.is_file and not Path(self.prompts.spec).is_file():
            self.message.setText(f"“{self.prompts.spec}” is no longer a file. Choose another.")
            return
        if self.first.currentData() == self.second.currentData():
            self.message.setText("Both sides are the same: choose two different sides.")
            return
        self.message.clear()
        settings = AnswerSettings(max_tokens=self.max_tokens.value())
        choice = Choice(
            self.first.side,
            self.second.side,
            self.prompts.spec,
            settings,
            self.limit.value() or None,
        )
        self.start_requested.emit(choice)
