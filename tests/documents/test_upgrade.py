"""An index made by an earlier Huacaya (schema 1: no terms column, codes split into parts)
keeps working: its chunks are brought into the new full-text index per collection, with
progress, resumable after a cancel; nothing is re-embedded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conversion.errors import Cancelled
from conversion.progress import CancelToken
from desktop.core.documents import fulltext
from desktop.core.documents.library import Documents
from desktop.core.documents.schema import MIGRATIONS
from desktop.core.history.schema import connect
from desktop.core.sqlite_store import apply_migrations
from tests.documents.conftest import FakeEmbedder


def old_index(path: Path, embedder: FakeEmbedder, chunks: int) -> None:
    """What schema 1 wrote: a collection whose chunks hold codes written with hyphens."""
    db = connect(path)
    apply_migrations(db, MIGRATIONS, RuntimeError, up_to=1)
    db.execute(
        "INSERT INTO collections (name, embedding_model, dimensions, created_at) "
        "VALUES ('old', ?, ?, 0)",
        (embedder.name, embedder.dimensions),
    )
    db.execute(
        "INSERT INTO files (collection_id, path, size, mtime_ns, sha256, status, pages, chunks, "
        "indexed_at) VALUES (1, '/gone/old.txt', 1, 1, '', 'indexed', 1, ?, 0)",
        (chunks,),
    )
    texts = [f"Part number ZX-{i:04d}-B is a hinge for gate {i}." for i in range(chunks)]
    vectors = embedder.embed(texts)
    db.executemany(
        'INSERT INTO chunks (file_id, page, start, "end", text, vector) VALUES (1, 1, 0, 9, ?, ?)',
        [(t, v.astype(np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)],
    )
    db.close()


def test_an_old_index_is_upgraded_and_finds_codes(
    tmp_path: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "documents.sqlite3"
    old_index(path, fake_embedder, 1200)
    monkeypatch.setattr(fulltext, "UPGRADE_BATCH", 500)
    docs = Documents(path, fake_embedder)  # type: ignore[arg-type]
    collection = docs.collection("old")
    assert docs.store.needs_full_text_upgrade(collection.id)

    stop = CancelToken()
    seen: list[float] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if fraction > 0:
            stop.cancel()  # after the first batch

    with pytest.raises(Cancelled):
        docs.store.upgrade_full_text(collection.id, progress, stop)
    assert docs.store.needs_full_text_upgrade(collection.id)  # not done: the next call goes on
    done = []
    docs.store.upgrade_full_text(collection.id, lambda f, m: done.append((f, m)))
    assert done[-1][0] == 1.0 and "search index" in done[0][1]
    assert not docs.store.needs_full_text_upgrade(collection.id)

    hits = docs.search(["old"], "ZX-0042-B", 3, "fts")
    assert hits[0].chunk.text.startswith("Part number ZX-0042-B ")
    assert docs.store.db.execute(
        "INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')"
    ).rowcount in (-1, 0, 1)  # raises when the index does not match its chunks
    docs.close()


def test_searching_an_old_index_upgrades_it_first(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    path = tmp_path / "documents.sqlite3"
    old_index(path, fake_embedder, 30)
    docs = Documents(path, fake_embedder)  # type: ignore[arg-type]
    hits = docs.search(["old"], "ZX-0007-B", 3)
    assert hits[0].chunk.text.startswith("Part number ZX-0007-B ")
    docs.close()


def test_removing_a_collection_not_yet_upgraded_keeps_the_index_sound(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    path = tmp_path / "documents.sqlite3"
    old_index(path, fake_embedder, 30)
    docs = Documents(path, fake_embedder)  # type: ignore[arg-type]
    docs.remove("old")  # its chunks were never in the new full-text index
    docs.store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    assert docs.store.integrity_ok()
    docs.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone() == (0,)
