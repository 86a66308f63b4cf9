"""The Compare models window: pick → answer (in the background) → vote blind → results."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import PublishedSetUnavailable
from conversion.progress import CancelToken, Progress, sub_range
from desktop.core.evaluation.items import load_prompts
from desktop.core.evaluation.published import SELF_INSTRUCT, TEXT_DAVINCI_003, prompts_path
from desktop.core.evaluation.sides import answer_set_for, default_session
from desktop.core.evaluation.votes import VoteSession
from desktop.core.models.library import ModelLibrary
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.compare.results import ResultsPage
from desktop.ui.compare.setup import Choice, SetupPage
from desktop.ui.compare.voting import VotingPage
from desktop.ui.errors import show_error
from desktop.ui.screen_fit import keep_fitted

SET_HINT = f"choose a copy of {SELF_INSTRUCT.file_name} with “Instruction file…”."
SIDE_HINT = f"choose a copy of {TEXT_DAVINCI_003.file_name} with “Answer file…”."


def open_session(choice: Choice, progress: Progress, cancel: CancelToken) -> VoteSession:
    """Both sides' answers (made or read, cached) and their vote session, new or resumed: the
    background task's work, all of it the core's. A published set or side is downloaded first
    (once); where its server cannot be reached, the error says which file to choose instead."""
    path = prompts_path(choice.prompts, sub_range(progress, 0.0, 0.05), cancel, hint=SET_HINT)
    items = load_prompts(path)
    if choice.limit:
        items = items[: choice.limit]
    sides = []
    for index, side in enumerate((choice.first, choice.second)):
        start = 0.05 + 0.475 * index
        try:
            answers = answer_set_for(
                side.spec,
                items,
                prompts_name=path.name,
                settings=choice.settings,
                progress=sub_range(progress, start, start + 0.475),
                cancel=cancel,
                base_url=side.base_url,
            )
        except PublishedSetUnavailable as exc:
            raise PublishedSetUnavailable(exc.message, SIDE_HINT) from exc
        sides.append(answers)
    session_path = default_session(sides[0].name, sides[1].name, items)
    session_path.parent.mkdir(parents=True, exist_ok=True)
    return VoteSession(session_path, sides[0], sides[1], items)


class AnsweringPage(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel("Starting…", self)
        self.message.setObjectName("answeringMessage")
        self.message.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setObjectName("cancelAnswering")
        self.cancel.clicked.connect(self.cancel_requested)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.message)
        layout.addWidget(self.bar)
        layout.addLayout(row)
        layout.addStretch(1)

    def show_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(round(fraction * 1000))
        if message:
            self.message.setText(message)


class CompareWindow(QDialog):
    """A window of its own (not modal): the chat window stays usable meanwhile."""

    session_opened = Signal()

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareWindow")
        self.setWindowTitle("Compare models")
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.session: VoteSession | None = None
        self.task: Task | None = None
        library.ensure_starter()
        self.setup = SetupPage(library, self)
        self.answering = AnsweringPage(self)
        self.voting = VotingPage(self)
        self.results = ResultsPage(self)
        self.pages = QStackedWidget(self)
        for page in (self.setup, self.answering, self.voting, self.results):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)

        self.setup.start_requested.connect(self._start)
        self.answering.cancel_requested.connect(self._cancel)
        self.voting.finished.connect(self._show_results)
        self.voting.results_requested.connect(self._show_results)
        self.results.back_requested.connect(self._show_voting)
        self.results.new_requested.connect(lambda: self.pages.setCurrentWidget(self.setup))
        keep_fitted(self, QSize(1000, 680))

    def start(self, choice: Choice) -> None:
        """Answer and compare ``choice`` at once, as if picked on the first page (which shows
        it, for a new start after a cancel): how another window opens a comparison pre-filled,
        such as the "Make your own" window's base model against its fine-tune."""
        self.setup.show_choice(choice)
        self._start(choice)

    def _start(self, choice: Choice) -> None:
        self.answering.show_progress(0.0, "Reading the instructions…")
        self.answering.cancel.setEnabled(True)
        self.pages.setCurrentWidget(self.answering)
        self.task = run_in_background(
            lambda progress, cancel: open_session(choice, progress, cancel),
            on_success=self._on_opened,
            on_failure=self._on_failed,
            on_progress=self.answering.show_progress,
            on_cancelled=self._on_cancelled,
            owner=self,
        )

    def _cancel(self) -> None:
        if self.task is not None:
            self.answering.message.setText("Stopping…")
            self.answering.cancel.setEnabled(False)
            self.task.cancel()

    def _on_opened(self, session: VoteSession) -> None:
        self.task = None
        self.session = session
        voted = len(session.votes)
        notice = (
            f"Resumed: {voted} of {len(session.pairs)} items already voted."
            if voted
            else f"{len(session.pairs)} items. Votes are saved as you cast them."
        )
        self.voting.show_session(session, notice)
        if session.finished:
            self._show_results()
        else:
            self._show_voting()
        self.session_opened.emit()

    def _on_failed(self, exc: BaseException) -> None:
        self.task = None
        self.pages.setCurrentWidget(self.setup)
        if isinstance(exc, PublishedSetUnavailable):  # one line where the choice is made
            self.setup.message.setText(str(exc))
            return
        show_error(self, exc)

    def _on_cancelled(self) -> None:
        self.task = None
        self.pages.setCurrentWidget(self.setup)
        self.setup.message.setText(
            "Stopped. The answers made so far are kept: starting again goes on from there."
        )

    def _show_voting(self) -> None:
        self.pages.setCurrentWidget(self.voting)

    def _show_results(self) -> None:
        if self.session is not None:
            self.results.show_session(self.session)
            self.pages.setCurrentWidget(self.results)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.task is not None:
            self.task.cancel()  # what was answered stays cached; votes are saved already
        super().closeEvent(event)
