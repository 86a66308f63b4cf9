"""ChatSession: the one owner of one conversation.

The window, the terminal chat and the API server all drive a ChatSession; none keeps a message
list of its own. The session decides what is saved (a conversation is only stored once it has a
first question), what is sent to the model (the system prompt, then every message in order),
what is shown when an answer ends early (stopped, length limit, older turns left out), and how a
failure rolls back.

An answer is asked for with :meth:`ask`, :meth:`regenerate` or :meth:`edit`, which return an
:class:`AnswerRequest` carrying its own :class:`CancelToken`, its prompt format and where the
conversation's window starts; the text comes back through :meth:`add_delta` and the answer ends
with :meth:`finish` (given the engine's :class:`Response`) or :meth:`fail`. One function drives
these steps for every front end: :func:`desktop.core.chat.answer.run_answer`.

Regenerate and edit keep what they replace as an earlier version of the turn (ChatGPT's
branches): a regenerated answer is a new version of the answer, an edited question a new
version of the question with its own answer, and each version keeps what followed it.
:meth:`show_version` pages through a turn's versions; the version shown is what the model sees
next, what is copied and exported, and what the history reopens (``history/versions.py``).
The new version is stored only when its answer is there (one transaction): a failed answer
changes nothing. What an edit replaced can be shown again with :meth:`undo_edit` (the new
version goes) until the conversation changes again. A session without a history keeps no
versions: regenerate and edit replace. Messages are found by their ``key``, which never changes
while the session lives (positions shift when a conversation has a system message, keys do
not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conversion.errors import GenerationError, HistoryError
from desktop.core.chat.chat_settings import ChatSettings
from desktop.core.chat.context_meter import Draft
from desktop.core.chat.edit_undo import EditUndo
from desktop.core.chat.message import ChatMessage
from desktop.core.chat.presets import Preset
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import AnswerRequest, Response, WindowAnchor
from desktop.core.documents.context import (
    Citation,
    Retriever,
    not_found_reply,
    prompt_with_passages,
)
from desktop.core.history.store import Conversation, History, NewMessage, StoredMessage
from desktop.core.settings import GenerationSettings


@dataclass
class _Pending:
    """The answer being produced, and how to undo asking for it."""

    request: AnswerRequest
    text: str = ""
    new_question: ChatMessage | None = None  # edit: the question the new answer follows
    saved_question: ChatMessage | None = None  # ask: saved at once, deleted if it fails
    replaced: list[ChatMessage] = field(default_factory=list)  # edit/regenerate
    created_conversation: bool = False
    citations: list[Citation] = field(default_factory=list)  # passages given with the question


def _from_row(row: StoredMessage, known: ChatMessage | None = None) -> ChatMessage:
    """A stored message as the session holds it (``known``: the object it already was)."""
    message = known or ChatMessage(
        row.role,  # type: ignore[arg-type]  # the schema allows the three roles only
        row.content,
        row.id,
        row.model,
        row.stats,
    )
    message.version, message.versions = row.version, row.versions
    return message


def _valid_text(text: str) -> str:
    """A question as it can be saved and tokenized: bytes that were not UTF-8 (a terminal or
    pipe in another encoding) reach Python as lone surrogates, which fail both."""
    if any("\ud800" <= character <= "\udfff" for character in text):
        raise GenerationError(
            "The question is not valid text: it holds bytes that are not UTF-8.",
            "Type it again, or set the terminal (or the file piped in) to UTF-8.",
        )
    return text


class ChatSession(ChatSettings):
    def __init__(
        self,
        history: History | None,
        defaults_for: Callable[[str], GenerationSettings] = lambda model: GenerationSettings(),
        starting_preset: Callable[[], Preset | None] = lambda: None,
    ) -> None:
        """``history``: where conversations are kept (None: nothing is saved).
        ``defaults_for(model_id)``: the generation settings new chats with a model start from;
        ``starting_preset()``: the preset a new chat starts with (None: none)."""
        self.history = history
        self.conversation_id: int | None = None
        self.model_id = ""
        self.model_label = "Assistant"
        self.conversation_model = ""  # the model the saved conversation last answered with
        self.messages: list[ChatMessage] = []
        self.window_anchor: WindowAnchor | None = None  # where the model's view starts, if trimmed
        self._pending: _Pending | None = None
        self._edit_undo: EditUndo[ChatMessage] | None = None  # what the last edit replaced
        # Documents Q&A: who finds the passages, (question, collections) → Passages; set by
        # whoever drives the session.
        self.find_passages: Retriever | None = None
        super().__init__(defaults_for, starting_preset)

    # -- which conversation ----------------------------------------------------------------

    @property
    def answering(self) -> bool:
        return self._pending is not None

    @property
    def partial_answer(self) -> str:
        return self._pending.text if self._pending else ""

    @property
    def edit_to_undo(self) -> int:
        """How many messages the last edit replaced, while it can be undone (0: none)."""
        return self._edit_undo.count if self._edit_undo is not None else 0

    def new(self) -> None:
        self._refuse_while_answering()
        self._edit_undo = None
        self.conversation_id = None
        self.messages = []
        self.window_anchor = None
        self.reset_settings()

    def open(self, conversation_id: int) -> Conversation:
        self._refuse_while_answering()
        if self.history is None:
            raise HistoryError("This chat is not saved, so no earlier chat can be opened.")
        conversation = self.history.get(conversation_id, with_messages=True)
        self._edit_undo = None
        self.conversation_id = conversation.id
        self.conversation_model = conversation.model
        self.read_settings(conversation)
        self.messages = [_from_row(m) for m in conversation.messages]
        self.window_anchor = None
        return conversation

    def adopt(self, turns: list[Message]) -> None:
        """Continue a conversation that arrives whole (the local API: each request brings its own
        earlier turns): they become this session's messages, as unsaved turns."""
        self._refuse_while_answering()
        self._edit_undo = None
        self.messages = [ChatMessage(m["role"], m["content"]) for m in turns]
        self.window_anchor = None

    def set_model(self, model_id: str, label: str) -> None:
        """The model that answers from now on (a new chat takes its default settings)."""
        self.model_id, self.model_label = model_id, label
        if self.conversation_id is None and not self.messages:
            self.generation = self.defaults_for(model_id)
            self.start_with_preset()

    def find(self, key: int) -> ChatMessage:
        for message in self.messages:
            if message.key == key:
                return message
        raise KeyError(key)

    def last_question(self) -> ChatMessage | None:
        return next((m for m in reversed(self.messages) if m.role == "user"), None)

    def last_answer(self) -> ChatMessage | None:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    def prompt_messages(self) -> list[Message]:
        system: list[Message] = (
            [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        )
        return system + [m.as_prompt() for m in self.messages]

    def draft(self, text: str) -> Draft:
        """What the context meter measures: this chat as the model sees it, and ``text``
        asked next."""
        return Draft(
            self.prompt_messages(),
            text.strip(),
            self.prompt_format,
            self.generation.validated().max_tokens,
            self.window_anchor,
        )

    # -- asking ----------------------------------------------------------------------------

    def ask(self, text: str) -> AnswerRequest:
        """A new question at the end of the conversation (saved at once)."""
        self._refuse_while_answering()
        text = _valid_text(text).strip()
        if not text:
            raise ValueError("an empty question")
        created = self._ensure_conversation()
        question = ChatMessage("user", text)
        if self.history is not None and self.conversation_id is not None:
            question.id = self.history.add_message(self.conversation_id, "user", text).id
        self.messages.append(question)
        return self._begin(saved_question=question, created_conversation=created)

    def regenerate(self) -> AnswerRequest:
        """Answer the last question again; the old answer goes once the new one is there."""
        self._refuse_while_answering()
        if not self.messages:
            raise ValueError("nothing to regenerate")
        replaced = []
        if self.messages[-1].role == "assistant":
            replaced = [self.messages.pop()]
        return self._begin(replaced=replaced)

    def edit(self, key: int, text: str) -> AnswerRequest:
        """Ask question ``key`` anew as ``text``; it and every later turn are replaced once the
        new answer is there."""
        self._refuse_while_answering()
        text = _valid_text(text).strip()
        message = self.find(key)
        if message.role != "user" or not text:
            raise ValueError("only a question can be edited, into a non-empty one")
        index = self.messages.index(message)
        replaced, self.messages = self.messages[index:], self.messages[:index]
        question = ChatMessage("user", text)
        self.messages.append(question)
        return self._begin(new_question=question, replaced=replaced)

    def undo_edit(self) -> None:
        """Put back what the last edit replaced (the edited question and its answer go); the
        chat's automatic title follows its first question back."""
        self._refuse_while_answering()
        undo, self._edit_undo = self._edit_undo, None
        if undo is None:
            raise ValueError("no edit to undo")
        start = self.messages.index(undo.new[0])
        first_new, first_old = undo.new[0].id, undo.replaced[0].id
        self.window_anchor = None
        if self.history is not None and self.conversation_id is not None and first_new:
            self.history.drop_version(self.conversation_id, first_new, then=first_old)
            self._reload(also=undo.replaced)
        else:
            self.messages[start:] = undo.replaced

    def show_version(self, key: int, step: int) -> bool:
        """Show the version ``step`` away (-1: the one before, 1: the next) of message ``key``'s
        turn, and what followed that version; False where there is none."""
        self._refuse_while_answering()
        message = self.find(key)
        number = message.version + step
        if not 1 <= number <= message.versions or message.id is None:
            return False
        if self.history is None or self.conversation_id is None:
            return False
        self.history.choose_version(self.conversation_id, message.id, number)
        self._edit_undo = None  # the conversation changed
        self.window_anchor = None
        self._reload()
        return True

    def _begin(self, **undo: Any) -> AnswerRequest:
        self._edit_undo = None  # the conversation changes: an earlier edit stays
        messages = self.prompt_messages()
        request = AnswerRequest(
            messages, self.generation, self.prompt_format, window_anchor=self.window_anchor
        )
        self._pending = _Pending(request, **undo)
        if self.collections and self.find_passages is not None and messages:
            question = messages[-1]["content"]
            try:
                passages = self.find_passages(question, self.collections)
            except BaseException:
                self.fail()  # undo asking, as for a failed answer
                raise
            if not passages.found:
                # Nothing relevant: say so rather than let the model make an answer up from
                # the nearest passages, which the user can still open under the answer.
                request = dataclasses.replace(
                    request, reply=not_found_reply(passages.collections or self.collections)
                )
                self._pending = _Pending(request, **undo, citations=passages.nearest)
                return request
            # Only the latest question carries passages: the budget is spent on what is asked now.
            messages[-1] = {
                "role": "user",
                "content": prompt_with_passages(question, passages.given),
            }
            self._pending.citations = passages.given
        return request

    def stop(self) -> None:
        """Stop the answer being produced (safe from any thread; a no-op when there is none)."""
        if self._pending is not None:
            self._pending.request.cancel.cancel()

    def add_delta(self, text: str) -> str:
        """Record streamed text; returns what to show (the models' habit of opening with a space
        or a newline is dropped)."""
        pending = self._require_pending()
        if not pending.text:
            text = text.lstrip()
        pending.text += text
        return text

    def finish(self, response: Response | None) -> ChatMessage:
        """The answer is complete, or stopped (kept as far as it came, marked stopped; ``None``:
        stopped without figures, e.g. when the app closes). Saves it, replacing what an edit or
        regenerate replaces, and remembers where the model's view of the conversation starts."""
        pending = self._require_pending()
        self._pending = None
        stats = response.stats if response is not None else None
        record: dict[str, Any] = stats.record() if stats else {"finish_reason": "cancelled"}
        if pending.request.reply:  # no model ran: say so, not how fast nothing was generated
            record = {"finish_reason": "stop", "not_found": True}
        elif response is not None:
            self.window_anchor = response.window_anchor
        if pending.citations:
            record["sources"] = [c.record() for c in pending.citations]
        answer = ChatMessage(
            "assistant", pending.text.strip(), model=self.model_label, stats=record
        )
        new = [m for m in (pending.new_question, answer) if m is not None]
        self.messages.append(answer)
        if self.history is not None and self.conversation_id is not None:
            rows = [NewMessage(m.role, m.content, m.model, m.stats) for m in new]
            replaced = pending.replaced[0].id if pending.replaced else None
            stored = (
                self.history.add_version(self.conversation_id, replaced, rows)
                if replaced is not None
                else self.history.append(self.conversation_id, rows)
            )
            for message, row in zip(new, stored, strict=True):
                message.id = row.id
            if self.model_id and self.model_id != self.conversation_model:
                # the chat goes on with the model that answered last (a restart reloads it)
                self.history.update_settings(self.conversation_id, model=self.model_id)
                self.conversation_model = self.model_id
            self._reload()  # the new version's number, and how many its turn has now
        if pending.new_question is not None:
            self._edit_undo = EditUndo(pending.replaced, new)
        return answer

    def fail(self) -> str | None:
        """The answer failed: put the conversation back as it was before asking. Returns the
        question to give back to the user (None after a failed regenerate)."""
        pending = self._require_pending()
        self._pending = None
        if pending.new_question is not None:  # edit
            self.messages.remove(pending.new_question)
            self.messages.extend(pending.replaced)
            return pending.new_question.content
        if pending.replaced:  # regenerate
            self.messages.extend(pending.replaced)
            return None
        question = pending.saved_question
        if question is None:  # regenerate of an unanswered question
            return None
        self.messages.remove(question)
        if self.history is not None and self.conversation_id is not None:
            if question.id is not None:
                self.history.delete_message(question.id)
            if pending.created_conversation and not self.messages:
                self.history.remove(self.conversation_id)
                self.conversation_id = None
        return question.content

    # -- helpers ---------------------------------------------------------------------------

    def _reload(self, also: Sequence[ChatMessage] = ()) -> None:
        """The shown messages again, as the history has them now (a version was made, shown or
        dropped); a message still shown keeps its object and key (and ``also``'s, if shown)."""
        assert self.history is not None and self.conversation_id is not None
        known = {m.id: m for m in [*self.messages, *also] if m.id is not None}
        rows = self.history.messages(self.conversation_id)
        self.messages = [_from_row(row, known.get(row.id)) for row in rows]

    def _ensure_conversation(self) -> bool:
        if self.history is None or self.conversation_id is not None:
            return False
        conversation = self.history.create(
            model=self.model_id,
            system_prompt=self.system_prompt,
            settings=self.settings_record(),
        )
        self.conversation_id, self.conversation_model = conversation.id, self.model_id
        return True

    def _require_pending(self) -> _Pending:
        if self._pending is None:
            raise RuntimeError("no answer is being produced")
        return self._pending

    def _refuse_while_answering(self) -> None:
        if self._pending is not None:
            raise RuntimeError("an answer is being produced; stop it first")
