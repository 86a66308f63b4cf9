"""The Compare step of the "Make your own" window: the base model against the fine-tune, blind,
in the Compare models window (``desktop/ui/compare``) opened with both sides and the prompts
chosen here; its result is shown back here."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError, StudioError
from desktop.core.evaluation.answerers import AnswerSettings
from desktop.core.evaluation.votes import VoteSession
from desktop.core.studio import comparing
from desktop.core.studio.finished import DEFAULT_QUANTIZATION, model_of, suggested_model_name
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import held_out_records, load_records
from desktop.ui import dialogs
from desktop.ui.compare.setup import INSTRUCTION_SETS, Choice, Side
from desktop.ui.compare.window import CompareWindow
from desktop.ui.errors import show_error
from desktop.ui.studio.exporting import ExportPanel, RunPicker
from desktop.ui.studio.parts import StudioParts

HELD_OUT, TYPED, FILE = 0, 1, 2


class CompareStep(QWidget):
    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        self.project: StudioProject | None = None
        self.compare_window: CompareWindow | None = None
        self.prompt_file: Path | None = None
        intro = QLabel(
            "Is the fine-tune better than the model it started from? Both answer the same "
            "prompts; you see each pair as A and B, names hidden, and vote.",
            self,
        )
        intro.setWordWrap(True)
        self.runs = RunPicker(self)
        self.runs.setObjectName("compareRun")
        self.runs.currentIndexChanged.connect(self._refresh)
        self.sides = QLabel(self)
        self.sides.setObjectName("compareSides")
        self.sides.setWordWrap(True)
        self.panel = ExportPanel(self)
        self.panel.ended.connect(self._refresh)
        self.add = QPushButton(f"Add to my models ({DEFAULT_QUANTIZATION.upper()})", self)
        self.add.setObjectName("compareAddToModels")
        self.add.clicked.connect(self._export)

        self.held_out = QRadioButton(self)
        self.typed = QRadioButton("My own prompts, one per line:", self)
        self.from_file = QRadioButton("A file of prompts:", self)
        self.source = QButtonGroup(self)
        for number, button in enumerate((self.held_out, self.typed, self.from_file)):
            self.source.addButton(button, number)
        self.source.idToggled.connect(lambda *_: self._refresh())
        self.prompts = QPlainTextEdit(self)
        self.prompts.setObjectName("comparePrompts")
        self.prompts.setAccessibleName("Your prompts")
        self.prompts.setPlaceholderText("Explain photosynthesis to a child.\nWrite a haiku…")
        self.prompts.textChanged.connect(self._on_typed)
        self.choose = QPushButton("Choose…", self)
        self.choose.clicked.connect(self._choose_file)
        self.file_label = QLabel("none chosen", self)
        file_row = QHBoxLayout()
        file_row.addWidget(self.from_file)
        file_row.addWidget(self.file_label, 1)
        file_row.addWidget(self.choose)
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setObjectName("compareMaxTokens")
        self.max_tokens.setRange(8, 8192)
        self.max_tokens.setValue(AnswerSettings().max_tokens)
        self.max_tokens.setSuffix(" tokens")
        form = QFormLayout()
        form.addRow("Training run", self.runs)
        form.addRow("Longest answer", self.max_tokens)

        self.start = QPushButton("Compare blindly…", self)
        self.start.setObjectName("startStudioComparison")
        self.start.clicked.connect(self._start)
        self.result = QLabel(self)
        self.result.setObjectName("compareResult")
        self.result.setWordWrap(True)
        bold = self.result.font()
        bold.setBold(True)
        self.result.setFont(bold)
        self.why_not = QLabel(self)  # why Compare is greyed, and what to do about it
        self.why_not.setObjectName("compareWhyNot")
        self.why_not.setWordWrap(True)
        self.why_not.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.why_not, 1)
        buttons.addWidget(self.start, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)

        prompts = QGroupBox("Prompts both models answer", self)
        inside = QVBoxLayout(prompts)
        inside.addWidget(self.held_out)
        inside.addWidget(self.typed)
        inside.addWidget(self.prompts, 1)
        inside.addLayout(file_row)
        lines = self.prompts.fontMetrics().lineSpacing()
        self.prompts.setMinimumHeight(3 * lines)
        self.prompts.setMaximumHeight(10 * lines)

        body = QWidget(self)  # scrolls where a small window with a large font cannot hold it
        layout = QVBoxLayout(body)
        layout.addWidget(intro)
        layout.addLayout(form)
        sides_row = QHBoxLayout()
        sides_row.addWidget(self.sides, 1)
        sides_row.addWidget(self.add)
        layout.addLayout(sides_row)
        layout.addWidget(self.panel)
        layout.addWidget(prompts)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        scroll.viewport().setAutoFillBackground(False)  # the page's colour, in either theme
        body.setAutoFillBackground(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll, 1)
        below = QVBoxLayout()  # always in sight: the result and the buttons
        margin = layout.contentsMargins()
        below.setContentsMargins(margin.left(), 0, margin.right(), margin.bottom())
        below.addWidget(self.result)
        below.addLayout(buttons)
        outer.addLayout(below)
        self.held_out.setChecked(True)

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
        self.result.clear()
        self.runs.fill(project)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.panel.busy:
            self.runs.fill(self.project)

    # -- what is compared ----------------------------------------------------------------

    def _held_out_count(self) -> int:
        if self.project is None:
            return 0
        try:
            return len(held_out_records(load_records(self.project.records_path)))
        except HuacayaError:
            return 0

    def _refresh(self) -> None:
        run, project = self.runs.run, self.project
        count = self._held_out_count()
        self.held_out.setText(f"The project's held-out records ({count})")
        export = model_of(project, run.name, self.parts.library) if project and run else None
        busy = self.panel.busy
        self.add.setVisible(run is not None and export is None)
        self.add.setEnabled(not busy)
        if run is None:
            self.sides.setText("")
        elif export is None:
            self.sides.setText(
                "This run is not in your models yet, so it cannot answer. Add it first (as in "
                "step 4), then compare."
            )
        else:
            assert project is not None
            try:
                base = comparing.base_side(project, run, self.parts.library)
            except HuacayaError as exc:
                base = f"(none: {exc.message})"
            self.sides.setText(f"Base model “{base}” against the fine-tune “{export.name}”.")
        missing = self._prompts_missing(count)
        self.start.setEnabled(export is not None and not missing and not busy)
        # the run not being in the models is said beside the sides, above
        self.why_not.setText(missing if project is not None and run is not None else "")
        self.why_not.setVisible(bool(self.why_not.text()))

    def _prompts_missing(self, held_out: int) -> str:
        """What the chosen prompts lack for a comparison, and what to do; "" when nothing."""
        kind = self.source.checkedId()
        if kind == HELD_OUT and held_out == 0:
            return (
                "No record is held out, so there is nothing to compare on. Hold out some "
                "records in step 1, Data (“Hold out 10%”), or type your own prompts above."
            )
        if kind == TYPED and not self.prompts.toPlainText().strip():
            return "Type at least one prompt above, one per line."
        if kind == FILE and self.prompt_file is None:
            return "Choose a file of prompts above."
        return ""

    def _on_typed(self) -> None:
        if self.prompts.toPlainText().strip() and not self.typed.isChecked():
            self.typed.setChecked(True)
        self._refresh()

    def _choose_file(self) -> None:
        dialogs.open_file(self, "Choose prompts", self._use_file, INSTRUCTION_SETS)

    def _use_file(self, path: Path) -> None:
        self.prompt_file = path
        self.file_label.setText(path.name)
        self.from_file.setChecked(True)
        self._refresh()

    def _export(self) -> None:
        run = self.runs.run
        if self.project is not None and run is not None and not self.panel.busy:
            library = self.parts.library
            name = suggested_model_name(self.project, run, library)
            self.panel.start(self.project, run, DEFAULT_QUANTIZATION, name, library)
            self._refresh()

    # -- the comparison ----------------------------------------------------------------

    def _choice(self) -> Choice:
        project, run = self.project, self.runs.run
        assert project is not None and run is not None
        export = model_of(project, run.name, self.parts.library)
        if export is None:
            raise StudioError("This run is not in your models yet.", "Add it first.")
        library = self.parts.library
        base = comparing.base_side(project, run, library)
        new = comparing.side_spec(library, export.model_id)
        kind = self.source.checkedId()
        if kind == HELD_OUT:
            prompts = comparing.held_out_prompts(project)
        elif kind == TYPED:
            prompts = comparing.own_prompts(project, self.prompts.toPlainText())
        else:
            assert self.prompt_file is not None
            prompts = self.prompt_file
        settings = AnswerSettings(max_tokens=self.max_tokens.value())
        return Choice(Side(base), Side(new), str(prompts), settings)

    def _start(self) -> None:
        try:
            choice = self._choice()
        except HuacayaError as exc:
            show_error(self, exc)
            return
        if self.compare_window is not None:
            self.compare_window.close()
        window = CompareWindow(self.parts.library, self)
        window.setObjectName("studioCompareWindow")
        window.voting.finished.connect(lambda: self._show_result(window.session))
        window.voting.changed.connect(lambda: self._show_result(window.session))
        window.session_opened.connect(lambda: self._show_result(window.session))  # resumed
        window.destroyed.connect(self._forget_window)
        self.compare_window = window
        self.result.setText("Comparing in the Compare models window…")
        window.start(choice)
        dialogs.present(window)

    def _forget_window(self) -> None:
        self.compare_window = None

    def _show_result(self, session: VoteSession | None) -> None:
        if session is None:
            return
        results = session.results()
        if not results.voted:
            self.result.setText(
                f"Vote in the Compare models window: {results.total} items, names hidden."
            )
            return
        base, new = results.first, results.second
        low, high = new.interval
        state = "Done" if session.finished else f"{results.voted} of {results.total} voted so far"
        self.result.setText(
            f"{state}: the fine-tune “{new.name}” won {new.wins}, lost {new.losses} and tied "
            f"{new.ties} against “{base.name}” — win rate {new.win_rate:.0%} "
            f"(95% interval {low:.0%}–{high:.0%})."
        )
