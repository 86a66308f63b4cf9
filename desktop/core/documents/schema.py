"""The documents index's schema (``documents.sqlite3`` beside the conversations): numbered,
append-only migrations, applied like the history's.

- ``collections``: a name, the embedding model its vectors come from, and a ``revision`` bumped
  by every change to its chunks (the in-memory vector matrix is reloaded when it moves);
- ``sources``: the folders and files the user added;
- ``files``: every file found, with its fingerprint (size, mtime, SHA-256) and its state:
  ``indexed`` or ``unreadable`` (with the reason);
- ``options``: choices about searching the index, such as the reranker (a Hub repository id);
- ``chunks``: page, character span, text and the embedding (float32 bytes), with an FTS5
  index (BM25) kept in step by triggers, and its vocabulary (how many chunks hold each word).
  The index has two columns: the text, and ``terms``, the joined forms of the codes and
  numbers it writes with separators (terms.py). ``terms`` is NULL for a chunk indexed before
  schema 2: such a chunk is not in the full-text index until the store computes its terms
  (``DocumentStore.upgrade_full_text``, run per collection with progress before the next
  indexing or search; ``collections.full_text`` says when a collection is done).

A file's chunks and its ``files`` row change in one transaction, so a crash (``kill -9``) leaves
every file either fully indexed under its fingerprint or not at all: the next scan resumes.
"""

from __future__ import annotations

import sqlite3

from conversion.errors import DocumentError
from desktop.core.sqlite_store import apply_migrations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "collections, files, chunks, full-text index",
        """
        CREATE TABLE collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            embedding_model TEXT NOT NULL,
            dimensions INTEGER NOT NULL,
            revision INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            UNIQUE (collection_id, path)
        );
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('indexed', 'unreadable')),
            reason TEXT NOT NULL DEFAULT '',
            pages INTEGER NOT NULL DEFAULT 0,
            chunks INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL NOT NULL,
            UNIQUE (collection_id, path)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            page INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            text TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX chunks_file ON chunks(file_id);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
    """,
    ),
    (
        2,
        "full-text index of codes and numbers",
        """
        DROP TRIGGER chunks_ai;
        DROP TRIGGER chunks_ad;
        DROP TABLE chunks_vocab;
        DROP TABLE chunks_fts;
        ALTER TABLE chunks ADD COLUMN terms TEXT;
        ALTER TABLE collections ADD COLUMN full_text INTEGER NOT NULL DEFAULT 0;
        UPDATE collections SET full_text = 1 WHERE id NOT IN (
            SELECT f.collection_id FROM files f JOIN chunks c ON c.file_id = f.id
        );
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, terms, content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks WHEN new.terms IS NOT NULL BEGIN
            INSERT INTO chunks_fts(rowid, text, terms) VALUES (new.id, new.text, new.terms);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks WHEN old.terms IS NOT NULL BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text, terms)
                VALUES ('delete', old.id, old.text, old.terms);
        END;
        CREATE TABLE options (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TRIGGER chunks_au AFTER UPDATE OF terms ON chunks
            WHEN old.terms IS NULL AND new.terms IS NOT NULL BEGIN
            INSERT INTO chunks_fts(rowid, text, terms) VALUES (new.id, new.text, new.terms);
        END;
    """,
    ),
]
LATEST = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations not yet recorded, each in its own transaction."""
    apply_migrations(
        db,
        MIGRATIONS,
        lambda version: DocumentError(
            f"The documents index is from a newer Huacaya (schema {version}).",
            "Update Huacaya to open it; nothing was changed.",
        ),
    )
