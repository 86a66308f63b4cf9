"""Conversations in SQLite (WAL, full-text search with FTS5; the schema is history_schema.py).

Every write is one transaction, so a crash (even ``kill -9``) leaves every committed message
in place. Deleting is soft first (``deleted_at``) so the window can offer Undo; deleted
conversations are purged later. Settings of a conversation are a JSON object of plain values.
"""

from __future__ import annotations

import html
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.core import paths
from desktop.core.history_schema import MIGRATIONS, HistoryError, connect, migrate

__all__ = [
    "MIGRATIONS",
    "Conversation",
    "History",
    "HistoryError",
    "SearchHit",
    "StoredMessage",
    "connect",
    "migrate",
]

DB_FILE = "history.sqlite3"
EXPORT_FORMAT = "huacaya-conversation"
EXPORT_VERSION = 1
TITLE_LENGTH = 60
_HIT_START, _HIT_END = "\x02", "\x03"


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


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    message_id: int
    title: str
    snippet_html: str  # escaped text with the matches in <b>…</b>


# -- the store ----------------------------------------------------------------------------------


def title_from(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def fts_query(text: str) -> str:
    """User words → an FTS5 query: every word must match, as a prefix; no syntax leaks."""
    words = [w for w in text.replace('"', " ").split() if w]
    return " ".join(f'"{w}"*' for w in words)


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

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- conversations ---------------------------------------------------------------------

    def create(
        self,
        model: str = "",
        system_prompt: str = "",
        settings: dict[str, Any] | None = None,
        title: str = "",
    ) -> Conversation:
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, model, system_prompt, settings, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (title, model, system_prompt, json.dumps(settings or {}), now, now),
            )
        return self.get(int(cursor.lastrowid))

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
            settings=json.loads(row["settings"] or "{}"),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def rename(self, conversation_id: int, title: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), conversation_id)
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
                    "UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id)
                )
            if system_prompt is not None:
                db.execute(
                    "UPDATE conversations SET system_prompt = ? WHERE id = ?",
                    (system_prompt, conversation_id),
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

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (time.time() - older_than_s,),
            )
        return cursor.rowcount

    # -- messages --------------------------------------------------------------------------

    def messages(self, conversation_id: int) -> list[StoredMessage]:
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
            stats=json.loads(row["stats"] or "{}"),
        )

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        model: str = "",
        stats: dict[str, Any] | None = None,
    ) -> StoredMessage:
        now = time.time()
        with self._tx() as db:
            (position,) = db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "model, stats) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, position, role, content, now, model, json.dumps(stats or {})),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            if role == "user":
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                    (title_from(content), conversation_id),
                )
        row = self.db.execute("SELECT * FROM messages WHERE id = ?", (cursor.lastrowid,))
        return self._message(row.fetchone())

    def truncate(self, conversation_id: int, from_position: int) -> None:
        """Delete the message at ``from_position`` and all after it (edit & resend, regenerate)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                (conversation_id, from_position),
            )

    # -- search ----------------------------------------------------------------------------

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        query = fts_query(text)
        if not query:
            return []
        # Newest matches first: FTS5 walks its index in rowid order and stops at the limit,
        # so a common word costs no more than a rare one (ranking would score every match).
        rows = self.db.execute(
            "SELECT m.conversation_id, m.id, c.title, "
            f"snippet(messages_fts, 0, '{_HIT_START}', '{_HIT_END}', '…', 12) "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? AND c.deleted_at IS NULL "
            "ORDER BY messages_fts.rowid DESC LIMIT ?",
            (query, limit),
        ).fetchall()
        return [SearchHit(row[0], row[1], row[2], self._highlight(row[3])) for row in rows]

    @staticmethod
    def _highlight(snippet: str) -> str:
        escaped = html.escape(snippet.replace("\n", " "))
        return escaped.replace(_HIT_START, "<b>").replace(_HIT_END, "</b>")

    # -- export and import ----------------------------------------------------------------

    def export_json(self, conversation_id: int) -> dict[str, Any]:
        conversation = self.get(conversation_id, with_messages=True)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "title": conversation.title,
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "settings": conversation.settings,
            "created_at": conversation.created_at,
            "messages": [
                {
                    "role": m.role,
                    "content": m.content,
                    "created_at": m.created_at,
                    "model": m.model,
                    "stats": m.stats,
                }
                for m in conversation.messages
            ],
        }

    def export_markdown(self, conversation_id: int) -> str:
        conversation = self.get(conversation_id, with_messages=True)
        parts = [f"# {conversation.title or 'Conversation'}\n"]
        if conversation.model:
            parts.append(f"*Model: {conversation.model}*\n")
        if conversation.system_prompt:
            parts.append(f"> **System:** {conversation.system_prompt}\n")
        for message in conversation.messages:
            who = "You" if message.role == "user" else message.model or "Assistant"
            parts.append(f"## {who}\n\n{message.content}\n")
        return "\n".join(parts)

    def import_json(self, data: Any) -> Conversation:
        """A conversation from :meth:`export_json` output; refuses anything else clearly."""
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
            raise HistoryError(
                "This file is not a Huacaya conversation export.",
                "Choose a .json file saved with Export → JSON.",
            )
        if int(data.get("version", 0)) > EXPORT_VERSION:
            raise HistoryError("This export comes from a newer Huacaya.", "Update to import it.")
        messages = data.get("messages")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict)
            and m.get("role") in ("system", "user", "assistant")
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise HistoryError("The export's messages are damaged.", "Export it again.")
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, model, system_prompt, settings, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    str(data.get("title", "")),
                    str(data.get("model", "")),
                    str(data.get("system_prompt", "")),
                    json.dumps(data.get("settings") or {}),
                    float(data.get("created_at", now)),
                    now,
                ),
            )
            conversation_id = int(cursor.lastrowid)
            for position, message in enumerate(messages):
                db.execute(
                    "INSERT INTO messages (conversation_id, position, role, content, created_at,"
                    " model, stats) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        position,
                        message["role"],
                        message["content"],
                        float(message.get("created_at", now)),
                        str(message.get("model", "")),
                        json.dumps(message.get("stats") or {}),
                    ),
                )
        return self.get(conversation_id, with_messages=True)
