"""Full-text search over the chunks' FTS5 index (BM25), and bringing chunks indexed before
schema 2 into it (schema.py, terms.py).

A question's words are ORed: BM25 ranks chunks holding more and rarer ones first, and no word
is required. Each word is quoted, so no FTS5 syntax of the user's gets through.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.documents.terms import index_terms
from desktop.core.sqlite_store import write_transaction

COMMON_FRACTION = 0.02  # a word in more chunks than this says little about any of them
COMMON_FLOOR = 2000  # below this many chunks, scoring every match costs a few ms: keep all
UPGRADE_BATCH = 500  # chunks given their terms per transaction (each one resumable)


def _quoted(words: Sequence[str]) -> str:
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words)


def _places(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def frequencies(db: sqlite3.Connection, words: Sequence[str]) -> dict[str, int]:
    """How many chunks of the whole index hold each word (absent words: 0)."""
    if not words:
        return {}
    found = dict(
        db.execute(
            f"SELECT term, doc FROM chunks_vocab WHERE term IN ({_places(words)})", list(words)
        ).fetchall()
    )
    return {w: int(found.get(w, 0)) for w in words}


def in_collections(
    db: sqlite3.Connection, ids: Sequence[int], collection_ids: Sequence[int]
) -> set[int]:
    if not ids or not collection_ids:
        return set()
    rows = db.execute(
        # CROSS JOIN keeps chunks the outer loop: a few lookups by id, not a scan of files
        f"SELECT c.id FROM chunks c CROSS JOIN files f ON f.id = c.file_id "
        f"WHERE c.id IN ({_places(ids)}) AND f.collection_id IN ({_places(collection_ids)})",
        (*ids, *collection_ids),
    )
    return {row[0] for row in rows}


def holding(
    db: sqlite3.Connection, word: str, collection_ids: Sequence[int], limit: int
) -> list[int]:
    """The chunks of the collections holding ``word`` (at most ``limit``; for rare words).
    Several words are a phrase: the chunks holding them next to each other."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?",
            (_quoted([word]), limit * 4),
        )
    ]
    inside = in_collections(db, ids, collection_ids)
    return [i for i in ids if i in inside][:limit]


def idf(total: int, holding: int) -> float:
    """A word's inverse document frequency as FTS5's ``bm25()`` computes it (a word in more
    than half the chunks gets almost none)."""
    return max(math.log((total - holding + 0.5) / (holding + 0.5)), 1e-6)


@dataclass(frozen=True)
class Ranking:
    """What full-text search found: chunk ids best first with their BM25 scores (higher is
    better), and ``ideal``, the score of a chunk of average length holding every word looked
    up once (the sum of their IDFs). A score over ``ideal`` says how much of what the question
    asks for, weighted by how rare each word is, a chunk matched: common words alone score a
    small part of it; the question's rare words, most of it."""

    ids: list[int]
    scores: dict[int, float]  # also for chunks ranked below ``ids`` (up to 4× as many)
    ideal: float

    def specificity(self, chunk_id: int) -> float:
        """The chunk's score over ``ideal``, at most 1 (0 when not found)."""
        if self.ideal <= 0:
            return 0.0
        return min(self.scores.get(chunk_id, 0.0) / self.ideal, 1.0)


NOTHING = Ranking([], {}, 0.0)


def ranked(
    db: sqlite3.Connection, collection_ids: Sequence[int], words: Sequence[str], limit: int
) -> list[int]:
    """Chunk ids holding any of ``words``, best BM25 first (see :func:`scored`)."""
    return scored(db, collection_ids, words, limit).ids


def scored(
    db: sqlite3.Connection, collection_ids: Sequence[int], words: Sequence[str], limit: int
) -> Ranking:
    """Chunks holding any of ``words``, best BM25 first, with their scores.

    In a large index, words found in more than ``COMMON_FRACTION`` of all chunks (and in
    more than ``COMMON_FLOOR``) are left out, unless every word is that common: then the
    two rarest stay. Their BM25 weight is small, yet scoring every chunk that holds them is
    what makes full-text search slow (benchmarks/documents.py: at 100,000 chunks, hundreds
    of milliseconds instead of a few). Words no chunk holds count in ``ideal``: a question
    put in other words than the documents' finds little here, and its matches weigh less.
    """
    words = list(dict.fromkeys(words))
    if not words or not collection_ids:
        return NOTHING
    frequency = frequencies(db, words)
    (total,) = db.execute("SELECT COUNT(*) FROM chunks").fetchone()
    common = max(total * COMMON_FRACTION, COMMON_FLOOR)
    kept = [w for w in words if frequency[w] <= common]
    kept = kept or sorted(words, key=lambda w: frequency[w])[:2]
    ideal = sum(idf(total, frequency[w]) for w in kept)
    query = _quoted(kept)
    # The best matches of the whole index first, then those of the chosen collections;
    # when other collections crowd them out, ask again with the collections joined in.
    wide = limit * 4
    best = db.execute(
        "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
        (query, wide),
    ).fetchall()
    inside = in_collections(db, [row[0] for row in best], collection_ids)
    if len(inside) < limit and len(best) >= wide:
        best = db.execute(
            f"SELECT chunks_fts.rowid, rank FROM chunks_fts "
            f"JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
            f"WHERE chunks_fts MATCH ? AND f.collection_id IN ({_places(collection_ids)}) "
            f"ORDER BY rank LIMIT ?",
            (query, *collection_ids, limit),
        ).fetchall()
        inside = {row[0] for row in best}
    found = [(row[0], -float(row[1])) for row in best if row[0] in inside]  # rank is -bm25
    return Ranking([i for i, _ in found[:limit]], dict(found), ideal)


def needs_upgrade(db: sqlite3.Connection, collection_id: int) -> bool:
    row = db.execute("SELECT full_text FROM collections WHERE id = ?", (collection_id,)).fetchone()
    return row is not None and not row[0]


def upgrade_full_text(
    db: sqlite3.Connection,
    collection_id: int,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> int:
    """Put the collection's chunks indexed before schema 2 into the full-text index, with
    their terms (a trigger indexes a chunk when its terms are set). Each batch is one
    transaction, so a cancel or a crash keeps what was done and the next call goes on.
    Returns how many chunks were done."""
    if not needs_upgrade(db, collection_id):
        return 0
    pending = [
        row[0]
        for row in db.execute(
            "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE f.collection_id = ? AND c.terms IS NULL ORDER BY c.id",
            (collection_id,),
        )
    ]
    total = len(pending)
    for first in range(0, total, UPGRADE_BATCH):
        cancel.check()
        progress(first / total, f"Updating the search index: {first:,}/{total:,} chunks")
        batch = pending[first : first + UPGRADE_BATCH]
        with write_transaction(db):
            rows = db.execute(
                f"SELECT id, text FROM chunks WHERE id IN ({_places(batch)}) AND terms IS NULL",
                batch,
            ).fetchall()
            db.executemany(
                "UPDATE chunks SET terms = ? WHERE id = ?",
                [(index_terms(text), chunk_id) for chunk_id, text in rows],
            )
    with write_transaction(db):
        db.execute("UPDATE collections SET full_text = 1 WHERE id = ?", (collection_id,))
    progress(1.0, "The search index is up to date.")
    return total
