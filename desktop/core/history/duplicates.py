"""Whether a chat being imported is already in the history, so that importing the same export
twice adds nothing the second time.

A chat is already here when a chat that is not deleted has the same system prompt, the same
messages shown (role and text, in order) and as many messages in all (the versions of its turns
count) and began at the same moment; where the file does not say when the chat began (a file
written by hand), the same title stands in for it. Titles given later (a rename) and stats do
not count: the conversation is what was said.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from desktop.core.history.titles import automatic_title


class _Message(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def other_versions(self) -> Sequence[Sequence[_Message]]: ...


class _Chat(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def system_prompt(self) -> str: ...
    @property
    def created_at(self) -> float | None: ...
    @property
    def messages(self) -> Sequence[_Message]: ...


class StoredChats:
    """The chats of a history (inside one transaction, on its connection), found by when they
    began and by title; the contents of the few that match are compared."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._by_start: dict[float, list[int]] = defaultdict(list)
        self._by_title: dict[str, list[int]] = defaultdict(list)
        rows = db.execute(
            "SELECT id, created_at, title FROM conversations WHERE deleted_at IS NULL"
        )
        for chat_id, created_at, title in rows:
            self._by_start[float(created_at)].append(chat_id)
            self._by_title[title].append(chat_id)

    def add(self, chat_id: int, chat: _Chat) -> None:
        """A chat just added (a file may hold the same chat twice)."""
        (created_at, title) = self.db.execute(
            "SELECT created_at, title FROM conversations WHERE id = ?", (chat_id,)
        ).fetchone()
        self._by_start[float(created_at)].append(chat_id)
        self._by_title[title].append(chat_id)

    def copy_of(self, chat: _Chat) -> int | None:
        """The id of a stored chat with the same content, or None."""
        if chat.created_at is not None:
            candidates = self._by_start.get(float(chat.created_at), [])
        else:
            candidates = self._by_title.get(_stored_title(chat), [])
        wanted = [(m.role, m.content) for m in chat.messages]
        size = sum(_size(m) for m in chat.messages)
        for chat_id in candidates:
            (system_prompt, count) = self.db.execute(
                "SELECT system_prompt, (SELECT COUNT(*) FROM messages WHERE conversation_id = ?) "
                "FROM conversations WHERE id = ?",
                (chat_id, chat_id),
            ).fetchone()
            if system_prompt != chat.system_prompt or count != size:
                continue
            stored = self.db.execute(
                "SELECT role, content FROM messages WHERE conversation_id = ? AND shown = 1 "
                "ORDER BY position",
                (chat_id,),
            ).fetchall()
            if [tuple(row) for row in stored] == wanted:
                return int(chat_id)
        return None


def _size(message: _Message) -> int:
    """How many messages ``message`` stores: itself, and its turn's other versions with what
    followed them."""
    return 1 + sum(_size(m) for other in message.other_versions for m in other)


def _stored_title(chat: _Chat) -> str:
    """The title the chat gets when stored: an empty one is made from the first question."""
    if chat.title:
        return chat.title
    first = next((m.content for m in chat.messages if m.role == "user"), None)
    return automatic_title(first) if first is not None else ""
