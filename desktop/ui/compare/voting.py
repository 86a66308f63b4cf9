"""The voting page: one item at a time, the two answers as A and B, names hidden.

Keys (while the page is shown): A, B, T (tie), X (both bad), S (skip), Ctrl+Z (undo); each has
its button too. What a key does is the session's (``VoteSession``): it is saved before the next
item shows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.core.evaluation.votes import VoteSession

# button text, object name, key, what it does (a vote, or "skip" / "undo")
ACTIONS = (
    ("A is better", "voteA", "A", "a"),
    ("B is better", "voteB", "B", "b"),
    ("Tie", "voteTie", "T", "tie"),
    ("Both bad", "voteBothBad", "X", "both_bad"),
    ("Skip", "skipItem", "S", "skip"),
    ("Undo", "undoVote", "Ctrl+Z", "undo"),
)


def _text_box(name: str, parent: QWidget) -> QPlainTextEdit:
    box = QPlainTextEdit(parent)
    box.setObjectName(name)
    box.setReadOnly(True)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys are the vote's, not the text's
    return box


class VotingPage(QWidget):
    changed = Signal()  # a vote, skip or undo was recorded
    finished = Signal()  # every item has a vote
    results_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: VoteSession | None = None
        self.position = QLabel(self)
        self.position.setObjectName("itemPosition")
        self.instruction = _text_box("instruction", self)
        self.instruction.setMaximumHeight(160)
        self.answer_a = _text_box("answerA", self)
        self.answer_b = _text_box("answerB", self)
        answers = QSplitter(Qt.Orientation.Horizontal, self)
        for title, box in (("A", self.answer_a), ("B", self.answer_b)):
            group = QGroupBox(f"Answer {title}", answers)
            inner = QVBoxLayout(group)
            inner.setContentsMargins(4, 4, 4, 4)
            inner.addWidget(box)
            answers.addWidget(group)

        self.buttons: dict[str, QPushButton] = {}
        # Two rows: the votes, then skip, undo and the results (one row of seven buttons
        # would not fit a small screen at a large font).
        votes, others = QHBoxLayout(), QHBoxLayout()
        for text, name, key, what in ACTIONS:
            shown_key = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
            button = QPushButton(f"{text}  ({shown_key})", self)
            button.setObjectName(name)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _checked=False, w=what: self.act(w))
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda w=what: self.act(w))
            self.buttons[what] = button
            (others if what in ("skip", "undo") else votes).addWidget(button)
        votes.addStretch(1)
        others.addStretch(1)
        self.show_results = QPushButton("Show results", self)
        self.show_results.setObjectName("showResults")
        self.show_results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_results.clicked.connect(self.results_requested)
        others.addWidget(self.show_results)
        self.notice = QLabel(self)
        self.notice.setObjectName("voteNotice")

        layout = QVBoxLayout(self)
        layout.addWidget(self.position)
        layout.addWidget(self.instruction)
        layout.addWidget(answers, 1)
        layout.addLayout(votes)
        layout.addLayout(others)
        layout.addWidget(self.notice)

    def show_session(self, session: VoteSession, notice: str = "") -> None:
        self.session = session
        self.notice.setText(notice)
        self._refresh()

    def act(self, what: str) -> None:
        session = self.session
        if session is None or not self.isVisible():
            return
        if what == "undo":
            undone = session.undo()
            self.notice.setText("Took back the last vote." if undone else "Nothing to undo.")
        elif session.current() is None:
            return
        elif what == "skip":
            session.skip()
            self.notice.setText("Skipped: the item comes back after the others.")
        else:
            session.vote(what)
            self.notice.setText(f"Saved ({len(session.votes)} of {len(session.pairs)} voted).")
        self.changed.emit()
        self._refresh()
        if session.finished:
            self.finished.emit()

    def _refresh(self) -> None:
        session = self.session
        shown = session.current() if session is not None else None
        for what, button in self.buttons.items():
            button.setEnabled(shown is not None or what == "undo")
        if shown is None:
            self.position.setText("Every item has a vote.")
            for box in (self.instruction, self.answer_a, self.answer_b):
                box.clear()
            return
        again = " — skipped before" if shown.skipped_before else ""
        self.position.setText(f"Item {shown.position} of {shown.total}{again}")
        item = shown.item
        text = item.instruction.strip()
        if item.input.strip():
            text += "\n\nInput:\n" + item.input.strip()
        self.instruction.setPlainText(text)
        self.answer_a.setPlainText(shown.answer_a or "(no answer)")
        self.answer_b.setPlainText(shown.answer_b or "(no answer)")
