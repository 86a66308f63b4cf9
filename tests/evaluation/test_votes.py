"""Blind vote sessions: the order per item, names hidden, votes saved as cast, skip, undo,
resume after a restart, results that match the votes, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conversion.errors import VoteSessionError
from desktop.core.evaluation.answer_files import Answer, AnswerSet
from desktop.core.evaluation.stats import wilson
from desktop.core.evaluation.votes import VoteSession


def side(name: str, count: int = 12) -> AnswerSet:
    answers = [Answer(f"q{i}", f"Question {i}?", "", f"{name} answers {i}.") for i in range(count)]
    return AnswerSet(name, answers)


def test_the_order_is_drawn_per_item_from_the_stored_seed_and_names_stay_hidden(
    tmp_path: Path,
) -> None:
    first, second = side("tuned", 40), side("base", 40)
    session = VoteSession(tmp_path / "s.jsonl", first, second, seed=7)
    swapped = [session.swapped(pair.item.key) for pair in session.pairs]
    assert 8 < sum(swapped) < 32  # both orders occur
    shown = session.current()
    assert shown is not None
    expected_a = "base" if swapped[0] else "tuned"
    assert shown.answer_a.startswith(expected_a)
    assert "tuned" not in repr(shown).replace(shown.answer_a, "").replace(shown.answer_b, "")
    reopened = VoteSession(tmp_path / "s.jsonl", first, second)  # the seed comes from the file
    assert [reopened.swapped(p.item.key) for p in reopened.pairs] == swapped
    other = VoteSession(tmp_path / "t.jsonl", first, second, seed=8)
    assert [other.swapped(p.item.key) for p in other.pairs] != swapped


def test_votes_skip_undo_and_resume_after_a_restart(tmp_path: Path) -> None:
    first, second = side("tuned"), side("base")
    path = tmp_path / "session.jsonl"
    session = VoteSession(path, first, second, seed=3)
    keys = [pair.item.key for pair in session.pairs]

    def a_is(name: str) -> str:
        shown = session.current()
        assert shown is not None
        return "a" if shown.answer_a.startswith(name) else "b"

    session.vote(a_is("tuned"))  # q0: tuned wins
    session.vote(a_is("base"))  # q1: base wins
    session.skip()  # q2 comes back at the end
    session.vote("tie")  # q3
    assert session.undo() == "vote"  # takes back the tie on q3
    assert session.current().item.key == keys[3]
    session.vote("both_bad")  # q3
    # A restart: everything cast so far comes back, in the same place.
    session = VoteSession(path, first, second)
    assert session.current().item.key == keys[4]
    assert session.results().first.wins == 1 and session.results().first.losses == 1
    for _ in range(8):  # q4 … q11: tuned wins all
        session.vote(a_is("tuned"))
    assert session.current().item.key == keys[2]  # the skipped item, last
    assert session.current().skipped_before
    session.vote("tie")
    assert session.finished and session.current() is None
    results = session.results()
    assert (results.first.wins, results.first.losses, results.first.ties) == (9, 1, 2)
    assert (results.second.wins, results.second.losses) == (1, 9)
    assert results.first.both_bad == 1
    assert results.first.win_rate == pytest.approx(10 / 12)
    assert results.first.interval == wilson(10, 12)
    assert "tuned: 9 wins, 1 losses, 2 ties" in results.describe()


def test_a_session_of_other_sides_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    VoteSession(path, side("tuned"), side("base"))
    with pytest.raises(VoteSessionError, match="compares tuned and base"):
        VoteSession(path, side("tuned"), side("other"))


def test_a_torn_last_vote_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    session = VoteSession(path, side("tuned"), side("base"), seed=1)
    session.vote("a")
    session.vote("b")
    with open(path, "ab") as handle:
        handle.write(b'{"item": "x", "vo')
    session = VoteSession(path, side("tuned"), side("base"))
    assert len(session.votes) == 2
    session.vote("tie")
    assert len(VoteSession(path, side("tuned"), side("base")).votes) == 3


def test_export_reveals_names_as_csv_and_json(tmp_path: Path) -> None:
    session = VoteSession(tmp_path / "s.jsonl", side("tuned", 3), side("base", 3), seed=5)
    for choice in ("a", "b", "tie"):
        session.vote(choice)
    session.export(tmp_path / "votes.csv")
    rows = list(csv.DictReader((tmp_path / "votes.csv").open()))
    assert [r["vote"] for r in rows] == ["a", "b", "tie"]
    for row, pair in zip(rows, session.pairs, strict=True):
        swapped = session.swapped(pair.item.key)
        assert row["shown_as_a"] == ("base" if swapped else "tuned")
        if row["vote"] == "a":
            assert row["winner"] == row["shown_as_a"]
    session.export(tmp_path / "votes.json")
    document = json.loads((tmp_path / "votes.json").read_text())
    tuned = document["results"]["tuned"]
    assert tuned["wins"] + tuned["losses"] + tuned["ties"] == 3 and tuned["ties"] == 1


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (0, 10, 0.0, 0.2775),
    ],
)
def test_wilson_interval_matches_newcombes_published_values(
    successes: int, n: int, low: float, high: float
) -> None:
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I.
    assert wilson(successes, n) == pytest.approx((low, high), abs=1e-4)
    assert wilson(n - successes, n) == pytest.approx((1 - high, 1 - low), abs=1e-4)
