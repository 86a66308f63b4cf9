"""Conversations in SQLite (WAL, full-text search with FTS5; the schema is schema.py, the
records read and written are records.py).

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
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from conversion.errors import HistoryError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core.history import versions
from desktop.core.history.duplicates import StoredChats
from desktop.core.history.records import (
    Added,
    Conversation,
    NewConversation,
    NewMessage,
    StoredMessage,
    json_object,
)
from desktop.core.history.schema import MIGRATIONS, connect, migrate
from desktop.core.history.search import SearchHit, fts_query, newest_matches, storable
from desktop.core.history.titles import first_question, retitle, title_untitled
from desktop.core.sqlite_store import write_transaction

__all__ = [
    "MIGRATIONS",
    "Conversation",
    "History",
    "NewConversation",
    "NewMessage",
    "SearchHit",
    "StoredMessage",
    "connect",
    "migrate",
]

log = logging.getLogger(__name__)

DB_FILE = "history.sqlite3"
TITLE_LENGTH = 60  # a title made from the first question
LONGEST_TITLE = 1_000  # a title given by a rename or an import (longer ones are cut or refused)


# -- the store ----------------------------------------------------------------------------------


def title_from(question: str, length: int = TITLE_LENGTH) -> str:
    """One line of at most ``length`` characters from the start of ``question`` (also how a
    title is shown where room is short); costs what ``length`` does, not the text."""
    line = " ".join(question[: 4 * length + 64].split())
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


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
        messages: builtins.list[NewMessage],
    ) -> Conversation:
        """A whole conversation at once (an import), in one transaction: all of it or nothing."""
        new = NewConversation(title, model, system_prompt, settings, created_at, None, messages)
        (added,) = self.add_conversations([new])
        return self.get(added.id, with_messages=True)

    def add_conversations(
        self,
        conversations: Sequence[NewConversation],
        *,
        skip_present: bool = False,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> builtins.list[Added]:
        """Whole conversations (an import of many), in ONE transaction: all of them or none,
        also when ``cancel`` stops it (``Cancelled``). With ``skip_present``, one that is
        already here (``duplicates.py``) is not added again: its copy is named instead."""
        now = time.time()
        added: builtins.list[Added] = []
        with self._tx() as db:
            present = StoredChats(db) if skip_present else None
            for number, new in enumerate(conversations):
                cancel.check()
                progress(number / max(len(conversations), 1), f"Saving chat {number + 1:,}")
                copy = present.copy_of(new) if present is not None else None
                if copy is not None:
                    added.append(Added(copy, new=False))
                    continue
                conversation_id = self._add(db, new, now)
                if present is not None:
                    present.add(conversation_id, new)
                added.append(Added(conversation_id, new=True))
            cancel.check()
        return added

    def _add(self, db: sqlite3.Connection, new: NewConversation, now: float) -> int:
        cursor = db.execute(
            "INSERT INTO conversations (title, model, system_prompt, settings, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                storable(new.title),
                storable(new.model),
                storable(new.system_prompt),
                json.dumps(new.settings),
                new.created_at if new.created_at is not None else now,
                now,
            ),
        )
        conversation_id = int(cursor.lastrowid or 0)
        versions.insert_turns(db, conversation_id, (None, 0), new.messages, now, shown=True)
        title_untitled(db, conversation_id)
        if new.updated_at is not None:  # an import keeps its place in time (the sidebar's order)
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (new.updated_at, conversation_id),
            )
        return conversation_id

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
            settings=json_object(row["settings"], "settings", row["id"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def rename(self, conversation_id: int, title: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (storable(title.strip()[:LONGEST_TITLE]), conversation_id),
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
        """The shown messages: the chosen version of each turn, in order."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND shown = 1 ORDER BY position",
            (conversation_id,),
        ).fetchall()
        return self._numbered(conversation_id, rows)

    def all_messages(self, conversation_id: int) -> builtins.list[StoredMessage]:
        """Every message, shown or not (every version), in the order they were made."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
        return self._numbered(conversation_id, rows)

    def _numbered(
        self, conversation_id: int, rows: builtins.list[sqlite3.Row]
    ) -> builtins.list[StoredMessage]:
        """``rows`` as messages, with their numbers among their turns' versions (the turns
        with versions are found in one pass over an index: a long chat costs no more)."""
        turns = versions.turns_with_versions(self.db, conversation_id)
        messages = [self._message(row) for row in rows]
        for message in messages:
            ids = turns.get((message.parent_id, message.position))
            if ids is not None and message.id in ids:
                message.version, message.versions = ids.index(message.id) + 1, len(ids)
        return messages

    def _message(self, row: sqlite3.Row) -> StoredMessage:
        return StoredMessage(
            id=row["id"],
            conversation_id=row["conversation_id"],
            position=row["position"],
            role=row["role"],
            content=row["content"],
            created_at=row["created_at"],
            model=row["model"],
            stats=json_object(row["stats"], "stats", row["id"]),
            parent_id=row["parent_id"],
            chosen=bool(row["chosen"]),
        )

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        model: str = "",
        stats: dict[str, Any] | None = None,
    ) -> StoredMessage:
        (stored,) = self.append(conversation_id, [NewMessage(role, content, model, stats or {})])
        return stored

    def _message_by_id(self, message_id: int) -> StoredMessage:
        row = self.db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise HistoryError(f"Message {message_id} does not exist.")
        message = self._message(row)
        ids = versions.siblings(self.db, message.conversation_id, message_id)
        message.version, message.versions = ids.index(message_id) + 1, len(ids)
        return message

    def append(
        self, conversation_id: int, new: builtins.list[NewMessage]
    ) -> builtins.list[StoredMessage]:
        """``new`` after the last shown message, in one transaction."""
        now = time.time()
        with self._tx() as db:
            place = versions.shown_end(db, conversation_id)
            ids = []
            for message in new:
                ids.append(versions.insert(db, conversation_id, message, now, place, shown=True))
                place = (ids[-1], place[1] + 1)
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            title_untitled(db, conversation_id)
        return [self._message_by_id(i) for i in ids]

    def add_version(
        self, conversation_id: int, of_id: int, new: builtins.list[NewMessage]
    ) -> builtins.list[StoredMessage]:
        """A new version of message ``of_id``'s turn (a regenerated answer; an edited question
        and its answer), shown from now on; the earlier versions stay, with what followed
        them. One transaction, once the new answer is there: a failure loses nothing."""
        now = time.time()
        with self._tx() as db:
            old_question = first_question(db, conversation_id)
            place = versions.version_place(db, conversation_id, of_id)
            db.execute(
                "UPDATE messages SET chosen = 0 WHERE conversation_id = ? AND position = ? "
                "AND parent_id IS ?",
                (conversation_id, place[1], place[0]),
            )
            ids = versions.insert_turns(db, conversation_id, place, new, now)
            versions.refresh_shown(db, conversation_id)
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            retitle(db, conversation_id, old_question)
            title_untitled(db, conversation_id)
        return [self._message_by_id(i) for i in ids]

    def choose_version(self, conversation_id: int, message_id: int, number: int) -> None:
        """Show version ``number`` (from 1) of message ``message_id``'s turn, and what followed
        that version; the automatic title follows the first question shown."""
        with self._tx() as db:
            old_question = first_question(db, conversation_id)
            versions.choose_number(db, conversation_id, message_id, number)
            retitle(db, conversation_id, old_question)

    def drop_version(self, conversation_id: int, message_id: int, then: int | None = None) -> None:
        """Delete version ``message_id`` of its turn and what followed it; version ``then``
        (by default the one before) is shown instead."""
        with self._tx() as db:
            old_question = first_question(db, conversation_id)
            versions.drop(db, conversation_id, message_id, then)
            retitle(db, conversation_id, old_question)

    def delete_message(self, message_id: int) -> None:
        """Remove one message (a question whose answer failed) and anything after it."""
        row = self.db.execute(
            "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is not None:
            self.drop_version(int(row[0]), message_id)

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
