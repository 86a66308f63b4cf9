"""Fusing the full-text and the vector rankings of a hybrid search into one.

Reciprocal rank fusion (RRF, Cormack et al. 2009: ``score = Σ 1 / (k + rank)``) needs no
calibration between the two lists, which is why it is the usual default; but it sees ranks
only. With k = 60, first and fifth place in one list differ by 0.001, while any place in the
other list adds at least 0.009: a passage that both lists put mid-way (it shares a few
ordinary words with the question, and reads a little like it) beats the one the vectors put
first and full-text search does not find at all, which is what a paraphrase looks like. A
weak full-text match of common words counts like a strong one.

So the lists are fused by their scores, as a convex combination of scores brought to a common
scale (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS
2024: more accurate than RRF and tuned with few examples; Weaviate's relativeScoreFusion and
Elastic's linear retriever do the same):

    score = α · cosine + (1 − α) · BM25 / ideal

Each score is measured against a fixed scale rather than against the best of its own list
(min-max normalisation would give the best full-text match 1 even when it matched only
"village" and "year"): the cosine as it is (below 0 counts as 0), and BM25 over ``ideal``,
what a chunk holding every word of the question would score (fulltext.Ranking). A chunk that
matches the question's rare words gets most of the full-text weight; one that matches its
common words, a small part; and a question whose words are not the documents' words (a
paraphrase) leaves the vectors to decide. ``ALPHA`` was chosen on the tuning question set
(benchmarks/documents_tuning.py), never on the benchmark's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

RRF_K = 60
# Weight of the vectors' cosine against full-text's share of the ideal score, chosen on the
# tuning set (benchmarks/documents.py --set tuning --alphas 0.3 0.4 ... 1.0): paraphrases are
# found 0.92 of the time at 0.3-0.4 and 0.96 from 0.5 to 1.0 (codes, numbers, names: 1.00
# throughout); 0.7 is inside that plateau, away from its edge, and where Bruch et al. found
# the best weights. (BM25 over the best match of the list instead of over ``ideal`` needed
# 0.8 to reach 0.96; over ``ideal`` without the words no chunk holds, 0.7.)
ALPHA = 0.7


def rrf_scores(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Σ 1/(k + rank) of each id over the rankings."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Ids ordered by Σ 1/(k + rank) over the rankings (ties: first seen first)."""
    scores = rrf_scores(rankings, k)
    return sorted(scores, key=lambda item: -scores[item])


def convex_scores(
    ids: Iterable[int],
    lexical: Callable[[int], float],
    cosine: Mapping[int, float],
    alpha: float = ALPHA,
) -> dict[int, float]:
    """α · cosine + (1 − α) · lexical for each id: ``lexical`` in [0, 1] (a chunk's BM25 over
    the question's ideal), ``cosine`` its similarity with the question (absent: 0)."""
    return {
        item: alpha * max(cosine.get(item, 0.0), 0.0) + (1.0 - alpha) * lexical(item)
        for item in ids
    }
