"""One open conversation: what the user asks, what the model answers, kept in the history.

``ConversationController`` ties the transcript view, the engine thread and the SQLite store:
send, stop, regenerate the last answer, edit an earlier question and resend (later turns are
replaced), and open or start conversations. A conversation is only written to the store once it
has a first question, so "New chat" never litters the sidebar with empty entries.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from PySide6.QtCore import QObject, Signal

from desktop.core.engine import GenerationStats
from desktop.core.errors import HuacayaError
from desktop.core.history import Conversation, History
from desktop.core.prompts import Message
from desktop.core.settings import GenerationSettings, Settings
from desktop.ui.chat_view import ChatView
from desktop.ui.engine_worker import EngineController

log = logging.getLogger(__name__)


def generation_from(data: dict, fallback: GenerationSettings) -> GenerationSettings:  # type: ignore[type-arg]
    merged = {**asdict(fallback), **(data or {})}
    known = set(asdict(fallback))
    return GenerationSettings(**{k: v for k, v in merged.items() if k in known}).validated()


class ConversationController(QObject):
    conversations_changed = Signal()
    answer_finished = Signal(object)  # GenerationStats
    answer_failed = Signal(object)  # HuacayaError
    question_returned = Signal(str)  # a failed question goes back to the composer

    def __init__(
        self, history: History, view: ChatView, engine: EngineController, settings: Settings
    ) -> None:
        super().__init__()
        self.history = history
        self.view = view
        self.engine = engine
        self.settings = settings
        self.conversation_id: int | None = None
        self.system_prompt = ""
        self.prompt_format = "auto"
        self.generation = settings.generation
        self.model_id = ""
        self.model_label = "Assistant"
        self.messages: list[Message] = []
        self._answer: list[str] = []
        engine.delta.connect(self._on_delta)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)

    # -- which conversation ----------------------------------------------------------------

    def defaults_for(self, model_id: str) -> GenerationSettings:
        return generation_from(
            self.settings.model_defaults.get(model_id, {}), self.settings.generation
        )

    def new(self) -> None:
        self.conversation_id = None
        self.messages = []
        self.system_prompt = ""
        self.prompt_format = "auto"
        self.generation = self.defaults_for(self.model_id)
        self.view.clear_conversation()

    def open(self, conversation_id: int) -> Conversation:
        conversation = self.history.get(conversation_id, with_messages=True)
        self.conversation_id = conversation.id
        self.system_prompt = conversation.system_prompt
        self.prompt_format = conversation.settings.get("prompt_format", "auto")
        self.generation = generation_from(
            conversation.settings.get("generation", {}), self.defaults_for(conversation.model)
        )
        self.messages = [
            {"role": m.role, "content": m.content}  # type: ignore[typeddict-item]
            for m in conversation.messages
            if m.role != "system"
        ]
        self.view.show_messages(
            [(m.role, self._label(m.role, m.model), m.content) for m in conversation.messages]
        )
        return conversation

    def _label(self, role: str, model: str = "") -> str:
        return "You" if role == "user" else (model or self.model_label)

    def set_model(self, model_id: str, label: str) -> None:
        self.model_id, self.model_label = model_id, label
        if self.conversation_id is None and not self.messages:
            self.generation = self.defaults_for(model_id)

    def save_settings(self) -> None:
        if self.conversation_id is not None:
            self.history.update_settings(
                self.conversation_id,
                system_prompt=self.system_prompt,
                settings={
                    "generation": asdict(self.generation),
                    "prompt_format": self.prompt_format,
                },
            )

    # -- asking ----------------------------------------------------------------------------

    def prompt_messages(self) -> list[Message]:
        system: list[Message] = (
            [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        )
        return system + self.messages

    def send(self, text: str) -> None:
        if self.conversation_id is None:
            conversation = self.history.create(
                model=self.model_id,
                system_prompt=self.system_prompt,
                settings={
                    "generation": asdict(self.generation),
                    "prompt_format": self.prompt_format,
                },
            )
            self.conversation_id = conversation.id
        self.history.add_message(self.conversation_id, "user", text)
        self.messages.append({"role": "user", "content": text})
        self.view.add_message("user", "You", text)
        self.conversations_changed.emit()
        self._ask()

    def _ask(self) -> None:
        self._answer = []
        self.view.begin_answer(self.model_label)
        self.engine.generate(self.prompt_messages(), self.generation, self.prompt_format)

    def regenerate(self) -> None:
        """Answer the last question again, replacing the last answer."""
        if self.engine.busy or not self.messages or self.conversation_id is None:
            return
        if self.messages[-1]["role"] == "assistant":
            self.messages.pop()
            self.history.truncate(self.conversation_id, len(self.messages))
            self.view.remove_from(len(self.messages))
        self._ask()

    def edit_and_resend(self, index: int, text: str) -> None:
        """Replace question ``index`` with ``text`` and drop every later turn."""
        if self.engine.busy or self.conversation_id is None:
            return
        self.messages = self.messages[:index]
        self.history.truncate(self.conversation_id, index)
        self.view.remove_from(index)
        self.send(text)

    def last_question_index(self) -> int | None:
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index]["role"] == "user":
                return index
        return None

    # -- the engine's replies --------------------------------------------------------------

    def _on_delta(self, text: str) -> None:
        self._answer.append(text)
        self.view.append_delta(text)

    def _on_finished(self, stats: GenerationStats) -> None:
        answer = "".join(self._answer).strip()
        notes = []
        if stats.dropped_messages:
            notes.append(
                f"The {stats.dropped_messages} oldest messages no longer fit in the model's "
                "context and were left out of this answer."
            )
        if stats.finish_reason == "cancelled":
            notes.append("(stopped)")
        elif stats.finish_reason == "length":
            notes.append("(reached the answer length limit)")
        self.view.end_answer(" ".join(notes))
        self.messages.append({"role": "assistant", "content": answer})
        if self.conversation_id is not None:
            self.history.add_message(
                self.conversation_id,
                "assistant",
                answer,
                model=self.model_label,
                stats={
                    "prompt_tokens": stats.prompt_tokens,
                    "evaluated_prompt_tokens": stats.evaluated_prompt_tokens,
                    "generated_tokens": stats.generated_tokens,
                    "time_to_first_token": stats.time_to_first_token,
                    "tokens_per_second": stats.tokens_per_second,
                    "finish_reason": stats.finish_reason,
                },
            )
        self.conversations_changed.emit()
        self.answer_finished.emit(stats)

    def _on_failed(self, error: HuacayaError) -> None:
        self.view.end_answer("(failed)")
        if self.messages and self.messages[-1]["role"] == "user":
            question = self.messages.pop()
            if self.conversation_id is not None:
                self.history.truncate(self.conversation_id, len(self.messages))
            self.view.remove_from(len(self.messages))
            self.question_returned.emit(question["content"])
        self.answer_failed.emit(error)
