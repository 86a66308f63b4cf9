"""Conversations in SQLite (WAL, full-text search with FTS5; the schema is history_schema.py).

Every write is one transaction, so a crash (even ``kill -9``) leaves every committed message
in place. Deleting is soft first (``deleted_at``) so the window can offer Undo; deleted
conversations are purged later. Settings of a conversation are a JSON object of plain values.
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conversion.errors import HistoryError
from desktop.core import paths
from desktop.core.history.schema import MIGRATIONS, connect, migrate
from desktop.core.history.search import SearchHit, fts_query, newest_matches, storable
from desktop.core.sqlite_store import write_transaction

__all__ = [
    "MIGRATIONS",
    "Conversation",
    "History",
    "NewMessage",
    "SearchHit",
    "StoredMessage",
    "connect",
    "migrate",
]

log = logging.getLogger(__name__)

DB_FILE = "history.sqlite3"
TITLE_LENGTH = 60


@dataclass
class StoredMessage:
    id: int
    conversation_id: int
    position: int
    role: str
    content: str
    created_at: float
    model: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewMessage:
    """A message to store: the history gives it its id, position and time."""

    role: str
    content: str
    model: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None  # now, unless it is older (an import)


@dataclass
class Conversation:
    id: int
    title: str
    model: str
    system_prompt: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float
    messages: list[StoredMessage] = field(default_factory=list)


# -- the store ----------------------------------------------------------------------------------


def title_from(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class History:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / DB_FILE
        try:
            self.db = connect(self.path)
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(
                f"The conversations file “{self.path}” cannot be opened: {exc}."
            ) from exc
        self.db.row_factory = sqlite3.Row
        # Searches run off the GUI thread, on a connection of their own (WAL: reads never wait)
        self._search_db: sqlite3.Connection | None = None
        self._search_lock = threading.Lock()

    def close(self) -> None:
        with self._search_lock:
            if self._search_db is not None:
                self._search_db.close()
                self._search_db = None
        self.db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self.db)

    # -- conversations ---------------------------------------------------------------------

    def create(
        self,
        model: str = "",
        system_prompt: str = "",
        settings: dict[str, Any] | None = None,
        title: str = "",
    ) -> Conversation:
        return self.add_conversation(
            title=title,
            model=model,
            system_prompt=system_prompt,
            settings=settings or {},
            created_at=time.time(),
            messages=[],
        )

    def add_conversation(
        self,
        *,
        title: str,
        model: str,
        system_prompt: str,
        settings: dict[str, Any],
        created_at: float,
        messages: list[NewMessage],
    ) -> Conversation:
        """A whole conversation at once (an import), in one transaction: all of it or nothing."""
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, model, system_prompt, settings, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    storable(title),
                    storable(model),
                    storable(system_prompt),
                    json.dumps(settings),
                    created_at,
                    now,
                ),
            )
            conversation_id = int(cursor.lastrowid or 0)
            for message in messages:
                self._insert(db, conversation_id, message, now)
        return self.get(conversation_id, with_messages=True)

    def list(self, limit: int = 500, offset: int = 0) -> list[Conversation]:
        rows = self.db.execute(
            "SELECT * FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [self._conversation(row) for row in rows]

    def get(self, conversation_id: int, with_messages: bool = False) -> Conversation:
        row = self.db.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"Conversation {conversation_id} does not exist.")
        conversation = self._conversation(row)
        if with_messages:
            conversation.messages = self.messages(conversation_id)
        return conversation

    def _conversation(self, row: sqlite3.Row) -> Conversation:
        return Conversation(
            id=row["id"],
            title=row["title"],
            model=row["model"],
            system_prompt=row["system_prompt"],
            settings=_json_object(row["settings"], "settings", row["id"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def rename(self, conversation_id: int, title: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (storable(title.strip()), conversation_id),
            )

    def update_settings(
        self,
        conversation_id: int,
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as db:
            if model is not None:
                db.execute(
                    "UPDATE conversations SET model = ? WHERE id = ?",
                    (storable(model), conversation_id),
                )
            if system_prompt is not None:
                db.execute(
                    "UPDATE conversations SET system_prompt = ? WHERE id = ?",
                    (storable(system_prompt), conversation_id),
                )
            if settings is not None:
                db.execute(
                    "UPDATE conversations SET settings = ? WHERE id = ?",
                    (json.dumps(settings), conversation_id),
                )

    def delete(self, conversation_id: int) -> None:
        """Hide it (restorable with :meth:`restore` until :meth:`purge_deleted`)."""
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET deleted_at = ? WHERE id = ?",
                (time.time(), conversation_id),
            )

    def restore(self, conversation_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,)
            )

    def remove(self, conversation_id: int) -> None:
        """Delete a conversation for good at once (one that never got an answer)."""
        with self._tx() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (time.time() - older_than_s,),
            )
        return cursor.rowcount

    # -- messages --------------------------------------------------------------------------

    def messages(self, conversation_id: int) -> builtins.list[StoredMessage]:
        rows = self.db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        ).fetchall()
        return [self._message(row) for row in rows]

    def _message(self, row: sqlite3.Row) -> StoredMessage:
        return StoredMessage(
            id=row["id"],
            conversation_id=row["conversation_id"],
            position=row["position"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
            model=row["model"],
            stats=_json_object(row["stats"], "stats", row["id"]),
        )

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        model: str = "",
        stats: dict[str, Any] | None = None,
    ) -> StoredMessage:
        (stored,) = self.replace_from(
            conversation_id, None, [NewMessage(role, content, model, stats or {})]
        )
        return stored

    def _insert(
        self, db: sqlite3.Connection, conversation_id: int, message: NewMessage, now: float
    ) -> int:
        (position,) = db.execute(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
        cursor = db.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at, "
            "model, stats) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                position,
                message.role,
                storable(message.content),
                message.created_at if message.created_at is not None else now,
                storable(message.model),
                json.dumps(message.stats),
            ),
        )
        db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        if message.role == "user":
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                (storable(title_from(message.content)), conversation_id),
            )
        return int(cursor.lastrowid or 0)

    def _message_by_id(self, message_id: int) -> StoredMessage:
        row = self.db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return self._message(row)

    def replace_from(
        self,
        conversation_id: int,
        first_id: int | None,
        new: builtins.list[NewMessage],
    ) -> builtins.list[StoredMessage]:
        """In one transaction: delete message ``first_id`` and every later one (none when it is
        None), then append ``new``. Edit-and-resend and regenerate replace the old turns only
        once the new answer is there, so a failure or a crash never loses them."""
        now = time.time()
        ids = []
        with self._tx() as db:
            if first_id is not None:
                row = db.execute(
                    "SELECT position FROM messages WHERE id = ? AND conversation_id = ?",
                    (first_id, conversation_id),
                ).fetchone()
                if row is None:
                    raise HistoryError(
                        f"Message {first_id} is not in conversation {conversation_id}."
                    )
                db.execute(
                    "DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                    (conversation_id, row[0]),
                )
            for message in new:
                ids.append(self._insert(db, conversation_id, message, now))
        return [self._message_by_id(i) for i in ids]

    def delete_message(self, message_id: int) -> None:
        """Remove one message (a question whose answer failed)."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    # -- search ----------------------------------------------------------------------------

    def search(self, text: str, limit: int = 50) -> builtins.list[SearchHit]:
        """Chats with a message matching every word of ``text`` (as prefixes), newest first:
        one hit per chat, its newest matching message. Safe to call from any thread (it has a
        connection of its own), and as fast for a 10 MB message as for a short one."""
        query = fts_query(text)
        if not query:
            return []
        with self._search_lock:
            if self._search_db is None:
                self._search_db = connect(self.path, check_same_thread=False)
            return newest_matches(self._search_db, query, text, limit)


def _json_object(text: str | None, what: str, row_id: int) -> dict[str, Any]:
    """A stored JSON object; damaged or ill-typed data (an older version's import) reads as
    empty rather than breaking the window that shows it."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        log.warning("ignoring the damaged %s of row %s: %.80r", what, row_id, text)
        return {}
    return value
