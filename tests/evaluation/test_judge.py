"""The judge, on a loopback OpenAI-compatible server with a known bias: a judge that prefers
the longer answer moves the length-controlled win rate toward 50% (the raw one stays); a judge
that prefers position A is caught by the consistency check; verdicts are cached; agreement with
human votes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from desktop.core.evaluation.answer_files import Answer, AnswerSet, load_answer_set
from desktop.core.evaluation.answerers import EndpointAnswerer
from desktop.core.evaluation.judge import read_verdict
from desktop.core.evaluation.judging import JudgeRun
from desktop.core.evaluation.stats import length_controlled
from tests.evaluation.judge_server import LoopbackJudge

PAIRS = 252


def sides(davinci: Path) -> tuple[AnswerSet, AnswerSet]:
    """text-davinci-003's answers, and a side whose answers are the same texts cut or padded
    (never the same length): shorter than davinci's on about three items in four, so length
    alone decides a biased judge."""
    reference = load_answer_set(davinci)
    reference.answers = reference.answers[:PAIRS]
    rng = random.Random(4)
    other = []
    for answer in reference.answers:
        words = answer.response.split() or ["ok"]
        text = " ".join(words[: max(1, int(len(words) * rng.uniform(0.2, 0.8)))])
        if rng.random() > 0.75 or len(text) == len(answer.response):  # never the same length
            text = " ".join(words + ["Indeed, this is so."] * rng.randint(1, 6))
        other.append(Answer(answer.id, answer.instruction, answer.input, text))
    return reference, AnswerSet("variant", other)


def judge_of(server: LoopbackJudge) -> EndpointAnswerer:
    return EndpointAnswerer("judge", server.url, parallel=8)


def test_a_judge_preferring_longer_answers_is_length_controlled(
    davinci: Path, tmp_path: Path
) -> None:
    first, second = sides(davinci)
    with LoopbackJudge("longer") as server:
        judge = judge_of(server)
        report = JudgeRun(judge, first, second, cache_dir=tmp_path).run()
        judge.close()
        assert len(server.requests) == 2 * PAIRS  # each pair in both orders
    assert report.consistency == 1.0  # length does not depend on the order
    # Here: raw 67.5%, length-controlled 56.5% (the data are fixed: no chance involved).
    assert report.raw_win_rate > 0.62
    assert abs(report.lc_win_rate - 0.5) < 0.1
    assert abs(report.lc_win_rate - 0.5) < abs(report.raw_win_rate - 0.5) - 0.08
    assert report.length_slope > 1.0
    assert report.mean_lengths[0] > report.mean_lengths[1]
    assert "length-controlled" in report.describe()


def test_a_judge_preferring_position_a_is_caught_by_the_consistency_check(
    davinci: Path, tmp_path: Path
) -> None:
    first, second = sides(davinci)
    with LoopbackJudge("position_a") as server:
        judge = judge_of(server)
        report = JudgeRun(judge, first, second, cache_dir=tmp_path).run()
        judge.close()
    assert report.consistency == 0.0
    assert report.chose_a == 1.0
    assert report.first.ties == PAIRS and report.raw_win_rate == 0.5  # every pair a tie
    assert "Position consistency: 0.0%" in report.describe()


def test_verdicts_are_cached_and_agreement_with_people_is_reported(
    davinci: Path, tmp_path: Path
) -> None:
    first, second = sides(davinci)
    with LoopbackJudge("longer") as server:
        judge = judge_of(server)
        JudgeRun(judge, first, second, cache_dir=tmp_path).run()
        asked = len(server.requests)
        people = {
            pair.item.key: float(len(pair.first.response) >= len(pair.second.response))
            for pair in JudgeRun(judge, first, second, cache_dir=tmp_path).pairs[:20]
        }
        people[next(iter(people))] = 0.5  # one tie where the judge has a winner
        report = JudgeRun(judge, first, second, human=people, cache_dir=tmp_path).run()
        judge.close()
        assert len(server.requests) == asked  # the second run asked nothing
    assert report.human_pairs == 20
    assert report.human_agreement == pytest.approx(19 / 20)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [("A", "A"), (" B.", "B"), ("Answer B is better", "B"), ("(A)", "A"), ("Neither", None),
     ("", None), ("AB", None)],
)  # fmt: skip
def test_reading_a_verdict(reply: str, verdict: str | None) -> None:
    assert read_verdict(reply) == verdict


def test_length_control_leaves_a_preference_that_length_does_not_explain() -> None:
    rng = random.Random(2)
    first = [rng.randint(100, 900) for _ in range(300)]
    second = [rng.randint(100, 900) for _ in range(300)]
    preferences = [1.0 if rng.random() < 0.7 else 0.0 for _ in first]
    control = length_controlled(preferences, first, second)
    raw = sum(preferences) / len(preferences)
    assert abs(control.win_rate - raw) < 0.05
    assert abs(control.slope) < 0.5
