"""The conversation database's schema: numbered, append-only migrations and the connection.

A released migration is never edited; a change is a new one. ``schema_migrations`` records what
was applied, each migration in its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from conversion.errors import HistoryError
from desktop.core.history.titles import automatic_title, legacy_title
from desktop.core.sqlite_store import apply_migrations

_FIRST_QUESTION = """(SELECT content FROM messages WHERE conversation_id = conversations.id
    AND role = 'user' ORDER BY position LIMIT 1)"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "conversations and messages",
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            system_prompt TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            stats TEXT NOT NULL DEFAULT '{}',
            UNIQUE (conversation_id, position)
        );
        CREATE INDEX conversations_by_update ON conversations(updated_at DESC);
    """,
    ),
    (
        2,
        "full-text search of messages",
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id', tokenize='unicode61'
        );
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    """,
    ),
    (
        3,
        "soft delete for undo",
        """
        ALTER TABLE conversations ADD COLUMN deleted_at REAL;
    """,
    ),
    (
        4,
        "automatic titles without a trailing ellipsis",
        # Only titles that are exactly what earlier versions made of the first question: a
        # title the person gave, even one ending in "…", stays as it is.
        f"""
        UPDATE conversations SET title = automatic_title({_FIRST_QUESTION})
        WHERE title LIKE '%…' AND title = legacy_title({_FIRST_QUESTION});
    """,
    ),
    (
        5,
        "versions of a turn",
        # Regenerate and Edit keep the earlier answers (and questions) as versions: messages
        # form a tree. ``parent_id`` is the message a message follows (NULL: the first); the
        # versions of a turn share it and their position, in the order they were made (id).
        # ``chosen`` marks the version shown among them (remembered in hidden branches too),
        # ``shown`` the conversation's shown path (chosen all the way from the first message),
        # kept in step by the store. The table is made anew (SQLite cannot drop the old
        # UNIQUE (conversation_id, position)); ids, and so the full-text index, stay.
        """
        DROP TRIGGER messages_ai;
        DROP TRIGGER messages_ad;
        DROP TRIGGER messages_au;
        CREATE TABLE messages_v5 (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent_id INTEGER,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            stats TEXT NOT NULL DEFAULT '{}',
            chosen INTEGER NOT NULL DEFAULT 1,
            shown INTEGER NOT NULL DEFAULT 1
        );
        INSERT INTO messages_v5 (id, conversation_id, parent_id, position, role, content,
            created_at, model, stats, chosen, shown)
        SELECT id, conversation_id,
            (SELECT p.id FROM messages p WHERE p.conversation_id = m.conversation_id
                AND p.position < m.position ORDER BY p.position DESC LIMIT 1),
            position, role, content, created_at, model, stats, 1, 1
        FROM messages m;
        DROP TABLE messages;
        ALTER TABLE messages_v5 RENAME TO messages;
        CREATE UNIQUE INDEX messages_shown_path ON messages(conversation_id, position)
            WHERE shown = 1;
        CREATE INDEX messages_versions ON messages(conversation_id, parent_id, position);
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
    """,
    ),
]
LATEST = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection, up_to: int = LATEST) -> list[int]:
    """Apply the migrations not yet in ``schema_migrations``, each in its own transaction."""
    return apply_migrations(
        db,
        MIGRATIONS,
        lambda version: HistoryError(
            f"The conversations file is from a newer Huacaya (schema {version}).",
            "Update Huacaya to open it; nothing was changed.",
        ),
        up_to,
    )


def connect(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # transactions are explicit
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    # the title rules, for migration 4 (they are Python's, so every version words them alike)
    db.create_function("automatic_title", 1, _text_or_empty(automatic_title), deterministic=True)
    db.create_function("legacy_title", 1, _text_or_empty(legacy_title), deterministic=True)
    return db


def _text_or_empty(rule: Callable[[str], str]) -> Callable[[object], str]:
    return lambda text: rule(text) if isinstance(text, str) else ""
