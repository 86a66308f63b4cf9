"""ROUGE-L exactly as rouge-score computes it, and the fast index deciding as Stanford's."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from rouge_score.rouge_scorer import _score_lcs

from benchmarks.dedup import stream
from conversion.selfinstruct.dedup import ExhaustiveIndex, OverlapIndex
from conversion.selfinstruct.rouge import TokenMatrix, rouge_l, rouge_tokens
from conversion.selfinstruct.seeds import load_seed_tasks


def test_scores_are_rouge_scores_bit_for_bit(stanford_seeds: Path) -> None:
    rng = random.Random(3)
    vocabulary = ["a", "b", "c", "d", "the", "of", "x", "y", "z", "w"]
    earlier = [tuple(rng.choices(vocabulary, k=rng.randint(0, 40))) for _ in range(150)]
    earlier += [tuple(rng.choices(vocabulary, k=90))]
    earlier += [rouge_tokens(t.instruction) for t in load_seed_tasks(stanford_seeds)]
    matrix = TokenMatrix()
    for tokens in earlier:
        matrix.add(tokens)
    queries = [tuple(rng.choices([*vocabulary, "q"], k=rng.randint(0, 40))) for _ in range(25)]
    queries += [tuple(rng.choices(vocabulary, k=70)), *earlier[-20:]]
    for new in queries:
        reference = np.array([_score_lcs(new, old).fmeasure for old in earlier])
        assert (matrix.scores(new) == reference).all()  # vectorised (and > 64 tokens: Python)
        few = np.arange(0, len(earlier), 37)  # the plain-Python path for a few rows
        assert (matrix.scores(new, few) == reference[few]).all()
        assert rouge_l(new, earlier[5]) == reference[5]


def test_threshold_is_strictly_above() -> None:
    index = OverlapIndex(threshold=0.7)
    index.add("one two three four five six seven eight nine ten")
    # 7 of 10 words in common, same length: F = 0.7 exactly — kept, as Stanford's (> 0.7).
    exact = index.judge("one two three four five six seven x y z")
    assert not exact.duplicate and abs(exact.best - 0.7) < 1e-12
    assert index.judge("one two three four five six seven eight y z").duplicate  # 0.8


def test_fast_index_makes_the_exhaustive_decisions_and_lists() -> None:
    seeds, items = stream(2500, seed=11)
    fast, exhaustive = OverlapIndex(), ExhaustiveIndex()
    for text in seeds:
        fast.add(text)
        exhaustive.add(text)
    duplicates = 0
    for text in items:
        mine, theirs = fast.judge(text), exhaustive.judge(text)
        assert mine.duplicate == theirs.duplicate, text
        if not mine.duplicate:
            assert mine.most_similar == theirs.most_similar, text
            assert mine.best == theirs.best
            fast.add(text)
            exhaustive.add(text)
        duplicates += mine.duplicate
    assert 300 < duplicates < 2000  # the stream does exercise both outcomes
