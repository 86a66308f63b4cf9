"""What a person does to the open conversation from the window: ask (Enter or Send), stop the
answer (Stop or Esc), regenerate it, edit a question and resend it, page through a turn's
versions (‹ ›), copy the last answer; and
what the status bar says about the answer on its way (Thinking…, Answering…, then its speed).

It is given the conversation, the engine thread (is it busy?), the chat panel it listens to and
a way to ask whether a model is loaded; it tells the window through ``changed`` (the controls
follow), ``status`` (the status line) and ``notice`` (a passing message).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QWidget

from conversion.errors import HuacayaError
from desktop.core.chat.folding import LONGEST_QUESTION, size_text
from desktop.core.chat.message import ChatMessage
from desktop.core.chat.response import GenerationStats
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.conversation import ConversationController
from desktop.ui.chat.entry import NEWER, OLDER
from desktop.ui.chat.panel import ChatPanel

THINKING, ANSWERING = "Thinking…", "Answering…"
EDITING = (
    "Editing a question: Enter sends it as a new version (the earlier one stays, ‹ ›), Esc cancels."
)


class ChatActions(QObject):
    changed = Signal()  # what can be done now changed: the window updates its controls
    status = Signal(str)  # for the status line
    notice = Signal(str)  # a passing message ("Copied …")

    def __init__(
        self,
        conversation: ConversationController,
        engine: EngineController,
        panel: ChatPanel,
        model_loaded: Callable[[], bool],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.conversation = conversation
        self.engine = engine
        self.composer = panel.composer
        self.model_loaded = model_loaded
        self._editing: int | None = None  # key of the question being edited
        self.stats_label = QLabel(parent)  # the status bar's right end
        self.stats_label.setObjectName("statsLabel")
        panel.view.action_requested.connect(self._on_message_action)
        panel.view.copied.connect(lambda _what: self.notice.emit("Copied to the clipboard."))
        panel.composer.submitted.connect(self.send)
        panel.composer.edit_last_requested.connect(self.edit_last_question)
        panel.composer.refused.connect(self.status)
        panel.send.clicked.connect(self._on_send_button)
        conversation.answer_started.connect(self._on_answer_started)
        conversation.answer_finished.connect(self._on_answer_finished)
        conversation.answer_failed.connect(self._on_answer_failed)
        conversation.question_returned.connect(self._return_question)
        engine.delta.connect(self._on_first_delta)

    @property
    def editing(self) -> bool:
        return self._editing is not None

    @property
    def ready(self) -> bool:
        """A question can be sent now."""
        return self.model_loaded() and not self.engine.busy

    # -- what a person does ----------------------------------------------------------------

    def send(self, text: str) -> None:
        if not self.ready:
            if not self.model_loaded():
                self.status.emit("Load a model before asking.")
            return
        self.composer.clear()
        editing, self._editing = self._editing, None
        if editing is not None:
            self.status.emit("")
            self.conversation.edit_and_resend(editing, text)
        else:
            self.conversation.send(text)

    def regenerate(self) -> None:
        if self.ready and self.conversation.messages:
            self.cancel_edit()
            self.conversation.regenerate()

    def stop(self) -> None:
        """Stop the answer; with none coming, leave the question being edited."""
        if self.engine.generating:
            self.conversation.stop()
        elif self._editing is not None:
            self.cancel_edit()

    def copy_last_answer(self) -> None:
        answer = self.conversation.session.last_answer()
        if answer is not None:
            QGuiApplication.clipboard().setText(answer.content)
            self.notice.emit("Copied the last answer to the clipboard.")

    def edit_last_question(self) -> None:
        question = self.conversation.session.last_question()
        if question is not None:
            self._start_edit(question.key)

    def cancel_edit(self) -> None:
        if self._editing is not None:
            self._editing = None
            self.composer.clear()
            self.status.emit("")
            self.changed.emit()

    def clear_stats(self) -> None:
        self.stats_label.clear()

    def _start_edit(self, key: int) -> None:
        if self.engine.busy:
            return
        question = self.conversation.session.find(key).content
        if len(question) > LONGEST_QUESTION:  # (an imported question can be that long)
            self.status.emit(
                f"This question is {size_text(len(question))} long, more than the "
                f"{LONGEST_QUESTION:,} the box holds, so it cannot be edited here. Copy it with "
                "its Copy link and send a shorter one."
            )
            return
        self._editing = key
        self.composer.setPlainText(question)
        self.composer.setFocus()
        self.status.emit(EDITING)
        self.changed.emit()

    def _on_send_button(self) -> None:
        if self.engine.generating:
            self.stop()
        else:
            self.composer.submit()

    def _on_message_action(self, action: str, key: int) -> None:
        if action == "edit":
            self._start_edit(key)
        elif action == "regenerate":
            self.regenerate()
        elif action in (OLDER, NEWER) and not self.engine.busy:
            self.cancel_edit()  # the question being edited may be another version's
            self.conversation.show_version(key, -1 if action == OLDER else 1)
            self.changed.emit()

    # -- the answer on its way -------------------------------------------------------------

    def _on_answer_started(self) -> None:
        self.stats_label.setText(THINKING)
        self.changed.emit()

    def _on_first_delta(self, _text: str) -> None:
        if self.stats_label.text() == THINKING:
            self.stats_label.setText(ANSWERING)

    def _on_answer_finished(self, answer: ChatMessage, _stats: GenerationStats | None) -> None:
        self.stats_label.setText(answer.speed)
        self.changed.emit()
        self.composer.setFocus()

    def _on_answer_failed(self, _error: HuacayaError) -> None:
        self.stats_label.clear()
        self.changed.emit()

    def _return_question(self, question: str) -> None:
        if not self.composer.toPlainText().strip():
            self.composer.setPlainText(question)
