"""Undoing an edit: the turns an edited question replaced on screen, kept so they can be shown
again.

Editing a question and sending it again makes a new version of that question (the history does
so in one transaction, once the new answer is there); the earlier question and what followed it
stay as the turn's earlier version. Until the conversation changes again (another question, a
regenerate, another version shown, another chat), :class:`EditUndo` holds what the edit replaced
and what it made, so the session can drop the new version and show the earlier one again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class ChatMessage(Protocol):
    """What is needed here of the session's messages (``desktop.core.chat.session``)."""

    id: int | None


M = TypeVar("M", bound=ChatMessage)


@dataclass
class EditUndo(Generic[M]):
    replaced: list[M]  # the edited question and the turns after it, as they were
    new: list[M]  # the question as edited and its answer

    @property
    def count(self) -> int:
        """How many messages the edit replaced."""
        return len(self.replaced)
