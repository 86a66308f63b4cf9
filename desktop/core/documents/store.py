"""The documents index in SQLite: collections, their files and chunks (schema.py).

Every change is one transaction (WAL), so ``kill -9`` at any moment leaves a consistent index.
The store is used from one thread at a time; the indexer and a search in the window each open
their own :class:`DocumentStore` on the same file (SQLite lets WAL readers run beside a writer).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.errors import DocumentError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core.documents import fulltext
from desktop.core.documents.chunker import Chunk
from desktop.core.documents.schema import migrate
from desktop.core.documents.terms import index_terms
from desktop.core.history.schema import connect
from desktop.core.sqlite_store import write_transaction

DB_FILE = "documents.sqlite3"


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    embedding_model: str
    dimensions: int
    revision: int
    sources: tuple[str, ...] = ()
    files: int = 0
    unreadable: int = 0
    chunks: int = 0


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str = ""


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    fingerprint: Fingerprint
    status: str  # "indexed" or "unreadable"
    reason: str
    pages: int
    chunks: int


@dataclass(frozen=True)
class StoredChunk:
    id: int
    collection: str
    path: str
    page: int
    start: int
    end: int
    text: str


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(ch in name for ch in "\n\r\t"):
        raise DocumentError(
            f"“{name}” cannot be a collection name.",
            "Use a short name on one line, e.g. `notes` or `manuals`.",
        )
    return name


class DocumentStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / DB_FILE
        try:
            self.db = connect(self.path)
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise DocumentError(
                f"The documents index “{self.path}” cannot be opened: {exc}.",
                "Close other copies of Huacaya; if the file is damaged, delete it and add your "
                "folders again (your documents themselves are never changed).",
            ) from exc
        self.db.row_factory = sqlite3.Row
        self._vectors: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self.db)

    # -- collections -----------------------------------------------------------------------

    def create_collection(self, name: str, embedding_model: str, dimensions: int) -> Collection:
        name = valid_name(name)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO collections (name, embedding_model, dimensions, "
                "created_at, full_text) VALUES (?, ?, ?, ?, 1)",
                (name, embedding_model, dimensions, time.time()),
            )
        return self.collection(name)

    def collection(self, name: str) -> Collection:
        row = self.db.execute("SELECT * FROM collections WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise DocumentError(f"There is no collection named “{name}”.")
        return self._collection(row)

    def collections(self) -> list[Collection]:
        rows = self.db.execute("SELECT * FROM collections ORDER BY name").fetchall()
        return [self._collection(row) for row in rows]

    def _collection(self, row: sqlite3.Row) -> Collection:
        sources = tuple(
            r[0]
            for r in self.db.execute(
                "SELECT path FROM sources WHERE collection_id = ? ORDER BY path", (row["id"],)
            )
        )
        counts = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'unreadable'), 0), COALESCE(SUM(chunks), 0) "
            "FROM files WHERE collection_id = ?",
            (row["id"],),
        ).fetchone()
        return Collection(
            row["id"],
            row["name"],
            row["embedding_model"],
            row["dimensions"],
            row["revision"],
            sources,
            counts[0] - counts[1],
            counts[1],
            counts[2],
        )

    def remove_collection(self, name: str) -> None:
        collection = self.collection(name)
        with self._tx() as db:
            db.execute("DELETE FROM collections WHERE id = ?", (collection.id,))
        self._vectors.pop(collection.id, None)

    def add_sources(self, name: str, sources: Sequence[Path]) -> None:
        collection = self.collection(name)
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sources (collection_id, path) VALUES (?, ?)",
                [(collection.id, str(p)) for p in sources],
            )

    def remove_source(self, name: str, source: Path) -> None:
        collection = self.collection(name)
        with self._tx() as db:
            db.execute(
                "DELETE FROM sources WHERE collection_id = ? AND path = ?",
                (collection.id, str(source)),
            )

    # -- files -----------------------------------------------------------------------------

    def files(self, collection_id: int) -> dict[str, FileRecord]:
        rows = self.db.execute(
            "SELECT * FROM files WHERE collection_id = ?", (collection_id,)
        ).fetchall()
        return {
            row["path"]: FileRecord(
                row["id"],
                row["path"],
                Fingerprint(row["size"], row["mtime_ns"], row["sha256"]),
                row["status"],
                row["reason"],
                row["pages"],
                row["chunks"],
            )
            for row in rows
        }

    def store_file(
        self,
        collection_id: int,
        path: str,
        fingerprint: Fingerprint,
        pages: int,
        chunks: Sequence[Chunk],
        vectors: np.ndarray | Sequence[np.ndarray],
    ) -> None:
        """Replace a file's chunks with new ones, in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._tx() as db:
            file_id = self._upsert_file(
                db, collection_id, path, fingerprint, "indexed", "", pages, len(chunks)
            )
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.executemany(
                'INSERT INTO chunks (file_id, page, start, "end", text, vector, terms) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (file_id, c.page, c.start, c.end, c.text, v.tobytes(), index_terms(c.text))
                    for c, v in zip(chunks, vectors, strict=True)
                ],
            )
            self._bump(db, collection_id)

    def mark_unreadable(
        self, collection_id: int, path: str, fingerprint: Fingerprint, reason: str
    ) -> None:
        with self._tx() as db:
            file_id = self._upsert_file(
                db, collection_id, path, fingerprint, "unreadable", reason, 0, 0
            )
            if db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,)).rowcount:
                self._bump(db, collection_id)

    def refresh_fingerprint(self, file_id: int, fingerprint: Fingerprint) -> None:
        """Same content under a new time stamp (touched, copied back): nothing to re-index."""
        with self._tx() as db:
            db.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?",
                (fingerprint.size, fingerprint.mtime_ns, file_id),
            )

    def forget_fingerprints(self, collection_id: int) -> None:
        """Make the next run read and embed every file again (a full re-index)."""
        with self._tx() as db:
            db.execute(
                "UPDATE files SET size = -1, sha256 = '' WHERE collection_id = ?", (collection_id,)
            )

    def remove_files(self, collection_id: int, file_paths: Sequence[str]) -> None:
        if not file_paths:
            return
        with self._tx() as db:
            db.executemany(
                "DELETE FROM files WHERE collection_id = ? AND path = ?",
                [(collection_id, p) for p in file_paths],
            )
            self._bump(db, collection_id)

    @staticmethod
    def _upsert_file(
        db: sqlite3.Connection,
        collection_id: int,
        path: str,
        fingerprint: Fingerprint,
        status: str,
        reason: str,
        pages: int,
        chunks: int,
    ) -> int:
        db.execute(
            "INSERT INTO files (collection_id, path, size, mtime_ns, sha256, status, reason, "
            "pages, chunks, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (collection_id, path) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, status = excluded.status, "
            "reason = excluded.reason, pages = excluded.pages, chunks = excluded.chunks, "
            "indexed_at = excluded.indexed_at",
            (
                collection_id,
                path,
                fingerprint.size,
                fingerprint.mtime_ns,
                fingerprint.sha256,
                status,
                reason,
                pages,
                chunks,
                time.time(),
            ),
        )
        (file_id,) = db.execute(
            "SELECT id FROM files WHERE collection_id = ? AND path = ?", (collection_id, path)
        ).fetchone()
        return int(file_id)

    @staticmethod
    def _bump(db: sqlite3.Connection, collection_id: int) -> None:
        db.execute("UPDATE collections SET revision = revision + 1 WHERE id = ?", (collection_id,))

    # -- reading chunks --------------------------------------------------------------------

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self.db.execute(
            f'SELECT c.id, c.page, c.start, c."end", c.text, f.path, k.name FROM chunks c '
            f"JOIN files f ON f.id = c.file_id JOIN collections k ON k.id = f.collection_id "
            f"WHERE c.id IN ({marks})",
            list(ids),
        ).fetchall()
        return {
            row[0]: StoredChunk(row[0], row[6], row[5], row[1], row[2], row[3], row[4])
            for row in rows
        }

    def chunks_by_file(self, collection_id: int, min_chars: int = 0) -> dict[str, list[int]]:
        """The chunk ids of each indexed file of a collection, in reading order (files by
        path, chunks by position); only chunks of at least ``min_chars`` characters besides
        the white space around them."""
        rows = self.db.execute(
            "SELECT f.path, c.id FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE f.collection_id = ? AND length(trim(c.text, char(32, 9, 10, 13))) >= ? "
            "ORDER BY f.path, c.page, c.start, c.id",
            (collection_id, min_chars),
        ).fetchall()
        found: dict[str, list[int]] = {}
        for path, chunk_id in rows:
            found.setdefault(path, []).append(int(chunk_id))
        return found

    def full_text(
        self, collection_ids: Sequence[int], words: Sequence[str], limit: int
    ) -> list[int]:
        """Chunk ids holding any of ``words``, best BM25 first (fulltext.ranked)."""
        return fulltext.ranked(self.db, collection_ids, words, limit)

    def full_text_scored(
        self, collection_ids: Sequence[int], words: Sequence[str], limit: int
    ) -> fulltext.Ranking:
        """The same, with BM25 scores and what a full match would score (fulltext.scored)."""
        return fulltext.scored(self.db, collection_ids, words, limit)

    def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """How many chunks of the whole index hold each word."""
        return fulltext.frequencies(self.db, words)

    def holding(self, word: str, collection_ids: Sequence[int], limit: int) -> list[int]:
        """The chunks of the collections holding ``word`` (for rare words)."""
        return fulltext.holding(self.db, word, collection_ids, limit)

    def upgrade_full_text(
        self,
        collection_id: int,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> int:
        """Bring chunks indexed by an older Huacaya into the full-text index (once)."""
        return fulltext.upgrade_full_text(self.db, collection_id, progress, cancel)

    def needs_full_text_upgrade(self, collection_id: int) -> bool:
        return fulltext.needs_upgrade(self.db, collection_id)

    def vectors(self, collection: Collection) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, their vectors as one float32 matrix), cached until the collection's
        revision moves."""
        revision = self.db.execute(
            "SELECT revision FROM collections WHERE id = ?", (collection.id,)
        ).fetchone()
        revision = revision[0] if revision else -1
        cached = self._vectors.get(collection.id)
        if cached and cached[0] == revision:
            return cached[1], cached[2]
        rows = self.db.execute(
            "SELECT c.id, c.vector FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE f.collection_id = ? ORDER BY c.id",
            (collection.id,),
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
            len(rows), collection.dimensions
        )
        self._vectors[collection.id] = (revision, ids, matrix)
        return ids, matrix

    def option(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM options WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def set_option(self, key: str, value: str) -> None:
        with self._tx() as db:
            if value:
                db.execute(
                    "INSERT OR REPLACE INTO options (key, value) VALUES (?, ?)", (key, value)
                )
            else:
                db.execute("DELETE FROM options WHERE key = ?", (key,))

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
