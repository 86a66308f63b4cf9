"""Hybrid retrieval: BM25 over FTS5 and cosine similarity over the embeddings, fused by
reciprocal rank (RRF, Cormack et al. 2009: ``score = Σ 1 / (k + rank)``).

Full-text search finds exact names, numbers and rare words that an embedding blurs; vectors
find paraphrases that share no word with the passage. RRF needs no score calibration between
the two, which is why it is the usual choice.

Vector search is exact: one matrix product over the collection's vectors held in memory
(float32; 100,000 chunks of 384 dimensions are 150 MB and a product takes a few milliseconds
with numpy's BLAS, measured in benchmarks/documents.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from desktop.core.documents.embedder import Embedder
from desktop.core.documents.store import Collection, DocumentStore, StoredChunk

Method = Literal["hybrid", "fts", "vector"]
RRF_K = 60
CANDIDATES = 50

_WORD = re.compile(r"\w+", re.UNICODE)
# Words of a question that say nothing about its subject. Left out of the full-text query,
# they would match most chunks, which BM25 then has to score (slow at 100,000 chunks) for
# nothing; the vectors still see the whole question.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not of off on once only or other our out over own same she should so
    some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    please tell explain describe""".split()
)


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float
    fts_rank: int | None  # 1-based rank in each list, None when absent from it
    vector_rank: int | None


def fts_terms(text: str) -> list[str]:
    """A question → the words to look up: its words but stopwords (all of them when nothing
    else is left), lower-cased, each once. BM25 ranks chunks holding more and rarer ones first;
    the store quotes each, so no FTS5 syntax leaks through."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
    return [w for w in words if w not in STOPWORDS] or words


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Ids ordered by Σ 1/(k + rank) over the rankings (ties: first seen first)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def nearest(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, limit: int) -> list[int]:
    """The ``limit`` ids whose vectors have the highest dot product with ``query`` (exact)."""
    if len(ids) == 0:
        return []
    scores = matrix @ query
    limit = min(limit, len(ids))
    top = np.argpartition(-scores, limit - 1)[:limit]
    return [int(ids[i]) for i in top[np.argsort(-scores[top])]]


def vector_ranking(
    store: DocumentStore, collections: Sequence[Collection], query: np.ndarray, limit: int
) -> list[int]:
    pairs: list[tuple[float, int]] = []
    for collection in collections:
        ids, matrix = store.vectors(collection)
        for chunk_id in nearest(matrix, ids, query, limit):
            index = int(np.searchsorted(ids, chunk_id))
            pairs.append((float(matrix[index] @ query), chunk_id))
    pairs.sort(key=lambda pair: -pair[0])
    return [chunk_id for _, chunk_id in pairs[:limit]]


def search(
    store: DocumentStore,
    collection_names: Sequence[str],
    query: str,
    embedder_for: Callable[[Collection], Embedder] | None,
    limit: int = 5,
    method: Method = "hybrid",
) -> list[Hit]:
    """The best ``limit`` chunks of the collections for ``query``. Collections indexed with
    different embedding models get one vector ranking per model (their similarities are not
    comparable), all fused with the full-text ranking."""
    collections = [store.collection(name) for name in collection_names]
    candidates = max(CANDIDATES, limit)
    fts: list[int] = []
    vectors: list[list[int]] = []
    if method in ("hybrid", "fts"):
        fts = store.full_text([c.id for c in collections], fts_terms(query), candidates)
    if method in ("hybrid", "vector") and embedder_for is not None:
        by_model: dict[str, list[Collection]] = {}
        for collection in collections:
            by_model.setdefault(collection.embedding_model, []).append(collection)
        for group in by_model.values():
            question = embedder_for(group[0]).embed_query(query)
            vectors.append(vector_ranking(store, group, question, candidates))
    fused = reciprocal_rank_fusion([fts, *vectors])
    fts_rank = {item: rank for rank, item in enumerate(fts, start=1)}
    vec_rank = {item: rank for ranking in vectors for rank, item in enumerate(ranking, start=1)}
    chunks = store.chunks(fused[: limit * len(collections)])
    hits: list[Hit] = []
    seen: set[tuple[str, int, int, int]] = set()
    for item in fused:
        chunk = chunks.get(item)
        place = (chunk.path, chunk.page, chunk.start, chunk.end) if chunk else None
        if chunk is None or place in seen:
            continue  # the same passage from two collections that share a folder: once
        seen.add(place)  # type: ignore[arg-type]
        score = sum(1.0 / (RRF_K + r[item]) for r in (fts_rank, vec_rank) if item in r)
        hits.append(Hit(chunk, score, fts_rank.get(item), vec_rank.get(item)))
        if len(hits) == limit:
            break
    return hits
