"""Undoing an edit: the turns an edited question replaced, kept so they can be put back.

Editing a question and sending it again replaces that question and every later turn (the
history does so in one transaction, once the new answer is there). Until the conversation
changes again (another question, a regenerate, another chat), :class:`EditUndo` holds what was
replaced, as shown and as saved (with its times), so the session can put it back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from desktop.core.history.store import History, NewMessage


class ChatMessage(Protocol):
    """What is needed here of the session's messages (``desktop.core.chat.session``)."""

    id: int | None


M = TypeVar("M", bound=ChatMessage)


@dataclass
class EditUndo(Generic[M]):
    replaced: list[M]  # the edited question and the turns after it, as they were
    saved: list[NewMessage]  # the same turns as the history held them ([] when not saved)
    new: list[M]  # the question as edited and its answer

    @property
    def count(self) -> int:
        """How many messages the edit replaced."""
        return len(self.replaced)


def saved_turns(history: History, conversation_id: int, first_id: int) -> list[NewMessage]:
    """Message ``first_id`` and every later one, as stored: what an edit is about to replace."""
    rows = history.messages(conversation_id)
    start = next((i for i, row in enumerate(rows) if row.id == first_id), len(rows))
    return [NewMessage(m.role, m.content, m.model, m.stats, m.created_at) for m in rows[start:]]


def adopt_ids(messages: Sequence[ChatMessage], ids: Sequence[int]) -> None:
    """The turns were stored again: they carry their new rows' ids."""
    if len(messages) == len(ids):
        for message, row_id in zip(messages, ids, strict=True):
            message.id = row_id
