"""An automatic pairwise comparison of two answer sets: :class:`JudgeRun`.

Each pair is judged twice, once in each order. A pair whose two verdicts name the same side is
consistent and counts for it; an inconsistent pair (or one without a verdict) is a tie. The
report gives the position-consistency rate, the raw win rate, the length-controlled one
(``stats.length_controlled``), each side's mean answer length, and, where people voted on the
same pairs (a vote session), how often the judge agrees with them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conversion.errors import Cancelled
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.evaluation.answer_files import AnswerSet, Pair, pair_up
from desktop.core.evaluation.answerers import Answerer, Generated
from desktop.core.evaluation.answering import AnswerCache
from desktop.core.evaluation.items import EvalItem
from desktop.core.evaluation.judge import JUDGE_SETTINGS, judge_prompt, read_verdict
from desktop.core.evaluation.stats import Tally, length_controlled, tallies


@dataclass(frozen=True)
class Judgment:
    id: str
    key: str
    verdicts: tuple[str | None, str | None]  # in order (first as A), then swapped (second as A)
    preference: float  # for the first side: 1, 0, or 0.5 (inconsistent or no verdict)

    @property
    def consistent(self) -> bool:
        first_order, swapped = self.verdicts
        return (first_order, swapped) in (("A", "B"), ("B", "A"))


@dataclass(frozen=True)
class JudgeReport:
    judge: str
    sides: tuple[str, str]
    judgments: list[Judgment]
    first: Tally
    second: Tally
    consistency: float  # pairs whose two verdicts agree
    chose_a: float  # of all verdicts, the share that named position A
    no_verdict: int  # replies without a verdict
    raw_win_rate: float  # the first side's
    lc_win_rate: float  # the first side's, at equal length
    length_slope: float
    mean_lengths: tuple[float, float]  # characters
    human_agreement: float | None = None
    human_pairs: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        a, b = self.sides
        lines = [
            f"Judge: {self.judge}; {len(self.judgments)} pairs, each judged in both orders.",
            f"Position consistency: {self.consistency:.1%} (verdicts naming position A: "
            f"{self.chose_a:.1%}; replies without a verdict: {self.no_verdict}).",
            self.first.describe(),
            self.second.describe(),
            f"Win rate of {a}: raw {self.raw_win_rate:.1%}, length-controlled "
            f"{self.lc_win_rate:.1%} (length effect {self.length_slope:+.2f}).",
            f"Mean answer length: {a} {self.mean_lengths[0]:.0f} characters, "
            f"{b} {self.mean_lengths[1]:.0f}.",
        ]
        if self.human_agreement is not None:
            lines.append(
                f"Agreement with human votes: {self.human_agreement:.1%} "
                f"on {self.human_pairs} pairs voted by people."
            )
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        document = asdict(self)
        document["judgments"] = [asdict(j) for j in self.judgments]
        atomic_write_text(path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")


class JudgeRun:
    """``judge`` comparing ``first`` with ``second`` on the items both answered."""

    def __init__(
        self,
        judge: Answerer,
        first: AnswerSet,
        second: AnswerSet,
        items: list[EvalItem] | None = None,
        *,
        human: dict[str, float] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """``human``: people's preference for ``first`` by item key (from a vote session)."""
        self.judge = judge
        self.sides = (first, second)
        self.pairs: list[Pair] = pair_up(first, second, items)
        self.human = human or {}
        self.cache = AnswerCache(judge.fingerprint, cache_dir)
        self.report: JudgeReport | None = None

    def _prompts(self) -> list[EvalItem]:
        prompts = []
        for pair in self.pairs:
            first, second = pair.first.response, pair.second.response
            prompts.append(EvalItem(f"{pair.item.key}:0", judge_prompt(pair.item, first, second)))
            prompts.append(EvalItem(f"{pair.item.key}:1", judge_prompt(pair.item, second, first)))
        return prompts

    def run(
        self, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
    ) -> JudgeReport:
        started = time.perf_counter()
        prompts = self._prompts()
        replies: dict[str, str] = {}
        todo = []
        for prompt in prompts:
            found = self.cache.get(prompt, JUDGE_SETTINGS)
            if found is None:
                todo.append(prompt)
            else:
                replies[prompt.id] = found.response
        total = len(prompts)
        progress(len(replies) / total, f"{len(replies)}/{total} verdicts from the cache")

        def on_reply(reply: Generated) -> None:
            self.cache.put(reply, JUDGE_SETTINGS)
            replies[reply.item.id] = reply.response
            progress(len(replies) / total, f"{len(replies)}/{total} verdicts")

        if todo:
            cancel.check()
            self.judge.answer_all(todo, JUDGE_SETTINGS, on_reply, cancel)
        if len(replies) < total:
            raise Cancelled()
        self.report = self._report(replies, time.perf_counter() - started)
        return self.report

    def _report(self, replies: dict[str, str], seconds: float) -> JudgeReport:
        judgments = []
        for pair in self.pairs:
            key = pair.item.key
            verdicts = (read_verdict(replies[f"{key}:0"]), read_verdict(replies[f"{key}:1"]))
            preference = 1.0 if verdicts == ("A", "B") else 0.0 if verdicts == ("B", "A") else 0.5
            judgments.append(Judgment(pair.item.id, key, verdicts, preference))
        preferences = [j.preference for j in judgments]
        names = (self.sides[0].name, self.sides[1].name)
        first, second = tallies(preferences, names)
        all_verdicts = [v for j in judgments for v in j.verdicts]
        given = [v for v in all_verdicts if v is not None]
        lengths = (
            [len(p.first.response) for p in self.pairs],
            [len(p.second.response) for p in self.pairs],
        )
        control = length_controlled(preferences, *lengths)
        shared = [j for j in judgments if j.key in self.human]
        agreement = (
            sum(j.preference == self.human[j.key] for j in shared) / len(shared) if shared else None
        )
        return JudgeReport(
            judge=self.judge.name,
            sides=names,
            judgments=judgments,
            first=first,
            second=second,
            consistency=sum(j.consistent for j in judgments) / len(judgments),
            chose_a=sum(v == "A" for v in given) / len(given) if given else 0.0,
            no_verdict=len(all_verdicts) - len(given),
            raw_win_rate=first.win_rate,
            lc_win_rate=control.win_rate,
            length_slope=control.slope,
            mean_lengths=(sum(lengths[0]) / len(self.pairs), sum(lengths[1]) / len(self.pairs)),
            human_agreement=agreement,
            human_pairs=len(shared),
            seconds=seconds,
        )


def human_preferences(session_first: str, votes: dict[str, float], first: str) -> dict[str, float]:
    """People's preferences for the judge's first side ``first``, from a vote session whose
    first side is ``session_first`` (flipped when the sides are the other way round)."""
    if session_first == first:
        return dict(votes)
    return {key: 1.0 - value for key, value in votes.items()}
