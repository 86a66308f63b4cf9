"""Hybrid retrieval: BM25 over FTS5 and cosine similarity over the embeddings, fused by their
scores (fusion.py: a convex combination of the cosine and of BM25 over what a full match would
score), with exact rare codes and numbers first, and an optional cross-encoder reranker over
the fused top 50.

Full-text search finds exact names, numbers and rare words that an embedding blurs; vectors
find paraphrases that share no word with the passage. A chunk holding the only occurrence of
the code the user typed is first in the full-text list and nowhere in the vector list (an
embedding does not know ``Q731-B``), and chunks that read like the question could overtake it.
So a chunk holding one of the question's *anchors* (its codes and numbers, terms.py) found in
at most ``ANCHOR_LIMIT`` chunks comes first, whatever the fusion says.

Vector search is exact: one matrix product over the collection's vectors held in memory
(float32; 100,000 chunks of 384 dimensions are 150 MB and a product takes a few milliseconds
with numpy's BLAS, measured in benchmarks/documents.py). Every hit also carries its cosine
similarity to the question, which relevance.py compares with a calibrated threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from desktop.core.documents import fusion
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.fulltext import NOTHING, Ranking
from desktop.core.documents.fusion import reciprocal_rank_fusion, rrf_scores
from desktop.core.documents.store import Collection, DocumentStore, StoredChunk
from desktop.core.documents.terms import STOPWORDS, QueryTerms, analyse, fts_terms

if TYPE_CHECKING:
    from desktop.core.documents.reranker import Reranker

__all__ = ["STOPWORDS", "Hit", "Search", "find", "fts_terms", "reciprocal_rank_fusion", "search"]

# "rrf": hybrid fused by reciprocal rank, as it was before fusion.py (for comparison)
Method = Literal["hybrid", "fts", "vector", "rrf"]
CANDIDATES = 50  # from each list; also how many fused passages the reranker sees
ANCHOR_LIMIT = 3


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float
    fts_rank: int | None  # 1-based rank in each list, None when absent from it
    vector_rank: int | None
    similarity: float | None = None  # cosine with the question (None: no vectors asked)
    anchors: tuple[str, ...] = ()  # the question's rare codes and numbers this chunk holds
    rerank: float | None = None  # the cross-encoder's score, when one reranked


@dataclass(frozen=True)
class Search:
    """What a search found, and what relevance needs to judge it."""

    hits: list[Hit]
    terms: QueryTerms  # what was looked up
    missing: tuple[str, ...]  # the question's identifiers (codes, names) no chunk holds


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


def similarities(
    store: DocumentStore,
    collections: Sequence[Collection],
    query: np.ndarray,
    chunk_ids: Sequence[int],
) -> dict[int, float]:
    """The cosine of ``query`` with each of ``chunk_ids`` found in ``collections``."""
    found: dict[int, float] = {}
    wanted = np.asarray(sorted(set(chunk_ids)), dtype=np.int64)
    for collection in collections:
        ids, matrix = store.vectors(collection)
        if len(ids) == 0 or len(wanted) == 0:
            continue
        places = np.clip(np.searchsorted(ids, wanted), 0, len(ids) - 1)
        present = ids[places] == wanted
        cosines = matrix[places[present]] @ query  # one product for all of them
        found.update(zip(wanted[present].tolist(), cosines.tolist(), strict=True))
    return found


def _anchored(
    store: DocumentStore, collection_ids: list[int], terms: QueryTerms
) -> tuple[dict[int, set[str]], tuple[str, ...]]:
    """chunk id → the rare anchors it holds; and the identifiers the collections lack."""
    frequency = store.frequencies([*terms.anchors, *terms.identifiers])
    held: dict[int, set[str]] = {}
    for anchor in terms.anchors:
        if 0 < frequency[anchor] <= ANCHOR_LIMIT:  # more: it points at nothing in particular
            for chunk_id in store.holding(anchor, collection_ids, ANCHOR_LIMIT):
                held.setdefault(chunk_id, set()).add(anchor)
    for name in terms.names:  # a full name asked for points at the few chunks that hold it
        chunks = store.holding(name, collection_ids, ANCHOR_LIMIT + 1)
        if len(chunks) <= ANCHOR_LIMIT:
            for chunk_id in chunks:
                held.setdefault(chunk_id, set()).add(name)
    missing = tuple(
        name
        for name in terms.identifiers
        if not frequency[name] or not store.holding(name, collection_ids, 1)
    )
    return held, missing


def find(
    store: DocumentStore,
    collection_names: Sequence[str],
    query: str,
    embedder_for: Callable[[Collection], Embedder] | None,
    limit: int = 5,
    method: Method = "hybrid",
    reranker: Reranker | None = None,
) -> Search:
    """The best ``limit`` chunks of the collections for ``query``. Collections indexed with
    different embedding models get one vector ranking per model (their similarities are not
    comparable), all fused with the full-text ranking."""
    collections = [store.collection(name) for name in collection_names]
    for collection in collections:
        if store.needs_full_text_upgrade(collection.id):
            store.upgrade_full_text(collection.id)  # indexing does it first, with progress
    ids = [c.id for c in collections]
    terms = analyse(query)
    candidates = max(CANDIDATES, limit)
    ranking: Ranking = NOTHING
    held: dict[int, set[str]] = {}
    missing: tuple[str, ...] = ()
    vectors: list[list[int]] = []
    similarity: dict[int, float] = {}
    if method != "vector":
        ranking = store.full_text_scored(ids, terms.words, candidates)
        held, missing = _anchored(store, ids, terms)
    fts = ranking.ids
    if method != "fts" and embedder_for is not None:
        by_model: dict[str, list[Collection]] = {}
        for collection in collections:
            by_model.setdefault(collection.embedding_model, []).append(collection)
        for group in by_model.values():
            question = embedder_for(group[0]).embed_query(query)
            ranked = vector_ranking(store, group, question, candidates)
            vectors.append(ranked)
            pool = {*fts, *held, *ranked}  # every candidate's cosine, for fusion and relevance
            similarity.update(similarities(store, group, question, sorted(pool)))
    if method == "hybrid":
        pool_ids = dict.fromkeys([*fts, *(i for v in vectors for i in v), *held])
        scores = fusion.convex_scores(pool_ids, ranking.specificity, similarity, fusion.ALPHA)
    else:
        scores = rrf_scores([fts, *vectors])  # the former fusion; one list alone: its order
    for chunk_id, anchors in held.items():
        scores[chunk_id] = scores.get(chunk_id, 0.0) + len(anchors)  # above any fused score
    fused = sorted(scores, key=lambda item: -scores[item])
    shortlist = fused[: max(candidates if reranker else limit, limit) * len(collections)]
    chunks = store.chunks(shortlist)
    fts_rank = {item: rank for rank, item in enumerate(fts, start=1)}
    vec_rank = {item: rank for order in vectors for rank, item in enumerate(order, start=1)}
    hits: list[Hit] = []
    seen: set[tuple[str, int, int, int]] = set()
    for item in shortlist:
        chunk = chunks.get(item)
        place = (chunk.path, chunk.page, chunk.start, chunk.end) if chunk else None
        if chunk is None or place in seen:
            continue  # the same passage from two collections that share a folder: once
        seen.add(place)  # type: ignore[arg-type]
        hits.append(
            Hit(
                chunk,
                scores[item],
                fts_rank.get(item),
                vec_rank.get(item),
                similarity.get(item),
                tuple(sorted(held.get(item, ()))),
            )
        )
    if reranker is not None and hits:
        hits = rerank(reranker, query, hits[:CANDIDATES])
    return Search(hits[:limit], terms, missing)


def rerank(reranker: Reranker, query: str, hits: list[Hit]) -> list[Hit]:
    """Order the hits by the cross-encoder's score; those holding an anchor stay first."""
    scores = reranker.score(query, [hit.chunk.text for hit in hits])
    scored = [
        Hit(h.chunk, h.score, h.fts_rank, h.vector_rank, h.similarity, h.anchors, float(s))
        for h, s in zip(hits, scores, strict=True)
    ]
    return sorted(scored, key=lambda h: (-len(h.anchors), -(h.rerank or 0.0)))


def search(
    store: DocumentStore,
    collection_names: Sequence[str],
    query: str,
    embedder_for: Callable[[Collection], Embedder] | None,
    limit: int = 5,
    method: Method = "hybrid",
    reranker: Reranker | None = None,
) -> list[Hit]:
    """The hits of :func:`find`."""
    return find(store, collection_names, query, embedder_for, limit, method, reranker).hits
