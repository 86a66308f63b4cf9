"""Is a passage relevant enough to answer from, or is the answer not in the documents?

Every search returns its nearest passages, even for a question the documents cannot answer; a
model given them makes an answer up. A passage counts as relevant when it holds one of the
question's rare codes or numbers (retrieval.py), or when its cosine similarity with the question
reaches the threshold calibrated for the collection's embedding model on our question set
(benchmarks/documents.py prints the similarities of answerable and unanswerable questions and
the rates at each threshold). A question whose codes or numbers appear nowhere in the
collections is not answered by them, however similar the passages read.

A Hub embedding model has no calibrated threshold here: its similarities are on another scale,
so every passage it finds counts as relevant (as before), and only the codes-and-numbers rule
applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from desktop.core.documents.retrieval import Hit, Search
from desktop.core.documents.terms import QueryTerms, fold
from desktop.core.models.embedding_model import EMBEDDING_NAME

# Cosine similarity of question and passage below which a passage is not used. all-MiniLM-L6-v2,
# chosen on the tuning question set (benchmarks/documents.py --set tuning: 100 answerable and
# 25 unanswerable questions; with score fusion, 0.28 keeps 95 answerable and recognises 22 of
# 25, and every step up loses more answerable questions than it gains): see the calibration
# table it prints. The benchmark's own set only reports it.
THRESHOLDS: dict[str, float] = {EMBEDDING_NAME: 0.28}
_WORD = re.compile(r"[^\W_]+")


def threshold_for(model: str) -> float | None:
    return THRESHOLDS.get(model)


def is_relevant(hit: Hit, threshold: float | None, terms: QueryTerms) -> bool:
    if threshold is None or hit.similarity is None:
        return True  # nothing calibrated to judge by (a Hub model, or full-text search alone)
    if hit.similarity >= threshold:
        return True
    if not hit.anchors:
        return False
    # It holds the code or number asked for: relevant when that is all the question says, or
    # when it shares another word with it (a year alone is not what "the 1998 World Cup" asks)
    content = set(terms.content)
    return not content or bool(content & {fold(w) for w in _WORD.findall(hit.chunk.text)})


def relevant_hits(found: Search, threshold_of: Callable[[Hit], float | None]) -> list[Hit]:
    """The hits worth answering from, best first; none when the documents hold none of the
    codes, numbers and names the question is about."""
    identifiers = found.terms.identifiers
    if identifiers and len(found.missing) == len(identifiers):
        return []
    return [hit for hit in found.hits if is_relevant(hit, threshold_of(hit), found.terms)]
