"""The open conversation in the window: a ChatSession shown in the transcript, answered by the
engine thread.

The session (``desktop.core.chat.session``) decides what is saved, sent and shown as stopped; this
adapter only forwards: a question to the session and its request to the engine, the engine's
text back to the session and the transcript, and tells the window when things change.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from conversion.errors import HuacayaError
from desktop.core.chat.answer import record_delta
from desktop.core.chat.message import ChatMessage
from desktop.core.chat.preset_store import PresetStore
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import Conversation, History
from desktop.core.settings import GenerationSettings, SettingsStore, generation_from
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.view import ChatView

log = logging.getLogger(__name__)


class ConversationController(QObject):
    conversations_changed = Signal()
    answer_started = Signal()
    answer_finished = Signal(object, object)  # the saved ChatMessage, its GenerationStats
    answer_failed = Signal(object)  # HuacayaError
    question_returned = Signal(str)  # a failed question goes back to the composer
    edit_undo_offered = Signal(int)  # how many messages an edit replaced, while undoable (0: none)
    chat_changed = Signal()  # another chat (or a new one) is open, or a new chat took a model

    def __init__(
        self,
        history: History,
        view: ChatView,
        engine: EngineController,
        store: SettingsStore,
        presets: PresetStore,
    ) -> None:
        super().__init__()
        self.view = view
        self.engine = engine
        self.store = store
        self.presets = presets
        self.history = history
        self.session = ChatSession(
            history, self.defaults_for, lambda: presets.get(store.settings.chat_preset)
        )
        engine.delta.connect(self._on_delta)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)

    # -- which conversation ----------------------------------------------------------------

    @property
    def conversation_id(self) -> int | None:
        return self.session.conversation_id

    @property
    def messages(self) -> list[ChatMessage]:
        return self.session.messages

    def defaults_for(self, model_id: str) -> GenerationSettings:
        settings = self.store.settings
        return generation_from(settings.model_defaults.get(model_id), settings.generation)

    def last_chat_model(self) -> str:
        """The model of the open chat, else of the newest chat ("" if none): the one to load at
        start."""
        chat = self.conversation_id
        try:
            if chat is not None:
                return self.history.get(chat).model
            newest = self.history.list(limit=1)
            return newest[0].model if newest else ""
        except HuacayaError as exc:
            log.warning("could not read which model the last chat used: %s", exc)
            return ""

    def label_for(self, message: ChatMessage) -> str:
        if message.role == "user":
            return "You"
        if message.role == "system":
            return "System"
        return message.model or self.session.model_label

    def new(self) -> None:
        self.session.new()
        self.view.clear_conversation()
        self.edit_undo_offered.emit(0)
        self.chat_changed.emit()

    def open(self, conversation_id: int) -> Conversation:
        conversation = self.session.open(conversation_id)
        self.refresh_view()
        self.edit_undo_offered.emit(0)
        self.chat_changed.emit()
        return conversation

    def refresh_view(self, around: int | None = None) -> None:
        self.view.show_messages(self.session.messages, self.label_for, around)

    def set_model(self, model_id: str, label: str) -> None:
        self.session.set_model(model_id, label)
        self.chat_changed.emit()  # a new chat took the model's defaults

    # -- asking ----------------------------------------------------------------------------

    def send(self, text: str) -> None:
        request = self.session.ask(text)
        self.view.add_message(self.session.messages[-1], "You")
        self.conversations_changed.emit()  # a new chat appears in the sidebar
        self._start(request)

    def regenerate(self) -> None:
        request = self.session.regenerate()
        self.refresh_view()
        self._start(request)

    def edit_and_resend(self, key: int, text: str) -> None:
        request = self.session.edit(key, text)
        self.refresh_view()
        self._start(request)

    def undo_edit(self) -> None:
        """Put back what the last edit replaced (the session says whether it still can)."""
        if self.engine.busy or not self.session.edit_to_undo:
            return
        self.session.undo_edit()
        self.refresh_view()
        self.edit_undo_offered.emit(0)
        self.conversations_changed.emit()  # the title may have followed the first question back

    def show_version(self, key: int, step: int) -> None:
        """Show another version of message ``key``'s turn (the session decides which, and
        keeps the choice); the transcript shows that version and what followed it."""
        if self.engine.busy or not self.session.show_version(key, step):
            return
        self.refresh_view(around=key)
        self.edit_undo_offered.emit(0)
        self.conversations_changed.emit()  # the title follows the first question shown

    def stop(self) -> None:
        self.engine.stop()

    def abandon(self) -> None:
        """The window closes and the engine did not end the answer in time: keep what arrived,
        as stopped, and ignore the engine from now on."""
        for signal, slot in (
            (self.engine.delta, self._on_delta),
            (self.engine.finished, self._on_finished),
            (self.engine.failed, self._on_failed),
        ):
            signal.disconnect(slot)
        self.engine.abandon()
        if self.session.answering:
            self.session.finish(None)

    def _start(self, request: AnswerRequest) -> None:
        self.edit_undo_offered.emit(0)
        self.view.begin_answer(self.session.model_label)
        self.engine.generate(request)
        self.answer_started.emit()

    # -- the engine's replies --------------------------------------------------------------

    # The steps of ``desktop.core.chat.answer.run_answer``, as the engine thread reports them.

    def _on_delta(self, text: str) -> None:
        if self.session.answering:
            record_delta(self.session, text, self.view.append_delta)

    def _on_finished(self, response: Response) -> None:
        answer = self.session.finish(response)
        self.view.end_answer(answer)
        self.view.update_versions(self.session.messages)  # an edited question: ‹ 2/2 ›
        self.conversations_changed.emit()
        self.edit_undo_offered.emit(self.session.edit_to_undo)
        self.answer_finished.emit(answer, response.stats)

    def _on_failed(self, error: HuacayaError) -> None:
        question = self.session.fail()
        self.refresh_view()
        if question:
            self.question_returned.emit(question)
        self.conversations_changed.emit()
        self.answer_failed.emit(error)
