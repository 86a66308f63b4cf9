"""De-duplication at full scale: ours against Stanford's exhaustive ROUGE-L.

    python benchmarks/dedup.py [--sizes 10000 50000] [--sample 1000] [--seed 0]

For each size, a stream of synthetic instructions (below) goes through the decision Stanford's
self-instruct made for each new instruction — keep it unless its ROUGE-L F-measure with a seed
(175 of them) or an instruction kept before is above 0.7:

* ours (``OverlapIndex``: token-overlap bound, exact ROUGE-L where the bound can matter), timed
  on the whole stream;
* Stanford's own scoring (``rouge_score``'s ``_score_lcs`` on every pair, one process), timed on
  the first ``--sample`` instructions and scaled up by the number of pairs the whole stream
  needs;
* for sizes up to ``--full-check``, every decision and every record's top-10 list compared with
  ``ExhaustiveIndex`` (every pair, vectorised, scores bit-identical to rouge-score's);
* recall: ``--probes`` further instructions against everything kept — how many pairs above the
  threshold the bound would not have sent to exact scoring (by construction: none).

Goal: 50,000 instructions in under a minute on 2 cores, ≥ 99.5 % the same decisions.

The synthetic instructions imitate generated data: an opener from a list of common
instruction openings, then words drawn from a Zipf-distributed vocabulary (so common words are
shared as in real text), and about a third of them rewritten from an earlier one with 0–50 %
of their words substituted, inserted, deleted or swapped — many pairs fall near the threshold.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rouge_score.rouge_scorer import _score_lcs

from conversion.selfinstruct.dedup import DEFAULT_THRESHOLD, ExhaustiveIndex, OverlapIndex
from conversion.selfinstruct.rouge import rouge_tokens

GOAL_SECONDS = 60.0
GOAL_AGREEMENT = 0.995
SEEDS = 175  # Stanford's seed tasks are compared too

OPENERS = [
    "Write a", "Generate a list of", "Explain why", "Classify the following", "Give me",
    "Create a", "Describe the", "Summarize the following", "Rewrite the following sentence",
    "Find the", "Suggest some", "Tell me about", "Identify the", "Translate the following",
    "Provide an example of", "What is the", "How can I", "Make a list of", "Come up with",
    "Compose a", "Edit the following", "Compare and contrast", "Name three", "Design a",
]  # fmt: skip
COMMON = (
    "the a of to and in for is that with on as it be this are by from or an your what about "
    "following given text sentence words list story new best way most how can you one two "
    "three five ten people time should which each some good make use write explain describe "
    "give example examples short simple important main different between their its into "
    "would could more less than when where why who there these those them they it's"
).split()
SYLLABLES = "ka lo mi ne ru sa ti vo pe da gu ri no ha be zu fo ly".split()


def vocabulary() -> tuple[list[str], list[float]]:
    """Common words first, then ~6,000 made-up ones; Zipf weights over the ranks."""
    rare = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})
    words = COMMON + rare
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(len(words))))
    return words, cumulative


class Synthetic:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words, self.cumulative = vocabulary()
        self.made: list[list[str]] = []

    def word(self) -> str:
        x = self.rng.random() * self.cumulative[-1]
        return self.words[bisect.bisect_left(self.cumulative, x)]

    def fresh(self) -> list[str]:
        return self.rng.choice(OPENERS).split() + [
            self.word() for _ in range(self.rng.randint(3, 18))
        ]

    def rewrite(self, words: list[str]) -> list[str]:
        words = list(words)
        for _ in range(round(len(words) * self.rng.uniform(0.0, 0.5))):
            op = self.rng.randrange(4)
            i = self.rng.randrange(len(words))
            if op == 0:
                words[i] = self.word()
            elif op == 1:
                words.insert(i, self.word())
            elif op == 2 and len(words) > 4:
                del words[i]
            elif i + 1 < len(words):
                words[i], words[i + 1] = words[i + 1], words[i]
        return words

    def __next__(self) -> str:
        if self.made and self.rng.random() < 0.35:
            words = self.rewrite(self.rng.choice(self.made))
        else:
            words = self.fresh()
        self.made.append(words)
        return " ".join(words).capitalize() + "."


def stream(n: int, seed: int) -> tuple[list[str], list[str]]:
    generator = Synthetic(seed)
    seeds = [next(generator) for _ in range(SEEDS)]
    return seeds, [next(generator) for _ in range(n)]


def run(index: ExhaustiveIndex, seeds: list[str], items: list[str]) -> tuple[list[bool], float]:
    """Stanford's loop: judge each instruction against seeds + kept, keep the non-duplicates."""
    started = time.perf_counter()
    for text in seeds:
        index.add(text)
    decisions = []
    for text in items:
        tokens = rouge_tokens(text)
        duplicate = index.judge(text, tokens).duplicate
        decisions.append(duplicate)
        if not duplicate:
            index.add(text, tokens)
    return decisions, time.perf_counter() - started


def run_stanford(seeds: list[str], items: list[str]) -> tuple[list[bool], float]:
    """Stanford's own scoring: ``rouge_score``'s ``_score_lcs`` for every pair, one process."""
    started = time.perf_counter()
    kept = [rouge_tokens(text) for text in seeds]
    decisions = []
    for text in items:
        tokens = rouge_tokens(text)
        best = max(_score_lcs(tokens, earlier).fmeasure for earlier in kept)
        decisions.append(best > DEFAULT_THRESHOLD)
        if best <= DEFAULT_THRESHOLD:
            kept.append(tokens)
    return decisions, time.perf_counter() - started


def pairs_scored(decisions: list[bool]) -> int:
    """How many pairs an exhaustive run scores: every instruction against seeds + kept so far."""
    total, kept = 0, SEEDS
    for duplicate in decisions:
        total += kept
        kept += not duplicate
    return total


def full_check(seeds: list[str], items: list[str]) -> tuple[int, int, float]:
    """(decisions that differ, kept records whose top-10 list differs, exhaustive seconds)."""
    ours, reference = OverlapIndex(), ExhaustiveIndex()
    for text in seeds:
        ours.add(text)
        reference.add(text)
    decisions = lists = 0
    seconds = 0.0
    for text in items:
        tokens = rouge_tokens(text)
        mine = ours.judge(text, tokens)
        began = time.perf_counter()
        theirs = reference.judge(text, tokens)
        seconds += time.perf_counter() - began
        decisions += mine.duplicate != theirs.duplicate
        if not theirs.duplicate:
            lists += mine.most_similar != theirs.most_similar
            reference.add(text, tokens)
        if not mine.duplicate:
            ours.add(text, tokens)
    return decisions, lists, seconds


def recall(index: OverlapIndex, probes: list[str]) -> tuple[int, int]:
    """(pairs above the threshold between ``probes`` and the index, of them under the bound).

    ``OverlapIndex`` scores exactly the rows whose overlap bound reaches the threshold, so a
    pair above the threshold with a bound below it would be a miss.
    """
    above = missed = 0
    for text in probes:
        tokens = rouge_tokens(text)
        over = index.matrix.scores(tokens) > index.threshold
        bound = (
            2 * index._postings.overlap(tokens) / (len(tokens) + index.matrix.lengths[: len(index)])
        )
        above += int(over.sum())
        missed += int((over & (bound < index.threshold - 1e-9)).sum())
    return above, missed


def agreement(a: list[bool], b: list[bool]) -> str:
    same = sum(x == y for x, y in zip(a, b, strict=True))
    verdict = "met" if same / len(a) >= GOAL_AGREEMENT else "NOT met"
    return f"{same:,}/{len(a):,} = {same / len(a):.3%} (goal ≥ {GOAL_AGREEMENT:.1%}: {verdict})"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument(
        "--sample", type=int, default=1_000, help="instructions for Stanford's exhaustive run"
    )
    parser.add_argument(
        "--full-check",
        type=int,
        default=10_000,
        help="compare every decision with exhaustive ROUGE-L up to this size",
    )
    parser.add_argument("--probes", type=int, default=300, help="instructions for the recall")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the start")
    for size in args.sizes:
        seeds, items = stream(size + args.probes, args.seed)
        items, probes = items[:size], items[size:]
        index = OverlapIndex()
        ours, ours_seconds = run(index, seeds, items)
        sample = min(args.sample, size)
        stanford, stanford_seconds = run_stanford(seeds, items[:sample])
        estimate = stanford_seconds * pairs_scored(ours) / pairs_scored(stanford)
        print(
            f"\n{size:,} synthetic instructions: {size - sum(ours):,} kept, "
            f"{sum(ours):,} dropped as near-duplicates"
        )
        met = "met" if ours_seconds < GOAL_SECONDS else "NOT met"
        print(f"  ours: {ours_seconds:.1f} s  (goal < {GOAL_SECONDS:.0f} s: {met})")
        print(
            f"  Stanford's exhaustive ROUGE-L (rouge-score, 1 process): {stanford_seconds:.1f} s "
            f"for the first {sample:,}; ≈ {estimate:,.0f} s for all {size:,} "
            f"(scaled by pairs scored) = {estimate / ours_seconds:,.0f}× ours"
        )
        same = agreement(ours[:sample], stanford)
        print(f"  same decisions as Stanford's on the first {sample:,}: {same}")
        if size <= args.full_check:
            decisions, lists, seconds = full_check(seeds, items)
            print(
                f"  against exhaustive ROUGE-L on all {size:,} ({seconds:.1f} s vectorised): "
                f"{decisions} decisions differ, {lists} top-10 lists differ"
            )
        above, missed = recall(index, probes)
        print(
            f"  recall: {len(probes):,} more instructions against the {len(index):,} indexed: "
            f"{above:,} pairs above the threshold, {missed} missed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
