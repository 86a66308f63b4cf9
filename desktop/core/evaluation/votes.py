"""A blind human comparison: :class:`VoteSession`, which a terminal or a window drives.

Each item shows the instruction and the two answers as A and B, in an order drawn per item from
the session's seed (stored in the session file, so the order is the same after a restart), with
the sides' names hidden until the results. The keys are A, B, tie and both bad, plus skip (the
item comes back after the others) and undo (the last vote or skip).

The session file is append-only JSON Lines (``journal.py``): a first line naming the sides, the
items and the seed, then one line per vote, skip or undo, written to disk as it is cast. A
session reopened with the same sides resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conversion.errors import VoteSessionError
from conversion.output import atomic_write_text
from desktop.core.evaluation.answer_files import AnswerSet, Pair, pair_up
from desktop.core.evaluation.items import EvalItem
from desktop.core.evaluation.journal import JsonLines
from desktop.core.evaluation.stats import Tally, tallies

HEADER_KEY = "huacaya_votes"
VERSION = 1
VOTES = ("a", "b", "tie", "both_bad")  # what a person may answer for the item shown


@dataclass(frozen=True)
class Shown:
    """The item to vote on, blind: which side is A is not said."""

    position: int  # 1-based, among the items still to vote on and those voted
    total: int
    item: EvalItem
    answer_a: str
    answer_b: str
    skipped_before: bool


@dataclass(frozen=True)
class Results:
    first: Tally
    second: Tally
    voted: int
    total: int

    def describe(self) -> str:
        return (
            f"{self.voted} of {self.total} items voted.\n"
            f"{self.first.describe()}\n{self.second.describe()}"
        )


class VoteSession:
    """Votes on the pairs of two answer sets, saved as they are cast."""

    def __init__(
        self,
        path: Path,
        first: AnswerSet,
        second: AnswerSet,
        items: list[EvalItem] | None = None,
        seed: int | None = None,
    ) -> None:
        self.path = path
        self.sides = (first, second)
        self.pairs: list[Pair] = pair_up(first, second, items)
        self._by_key = {pair.item.key: pair for pair in self.pairs}
        self.journal = JsonLines(path)
        records = list(self.journal.read())
        if records:
            header = self._check(records[0])
            self.seed = int(header["seed"])
            self.events = records[1:]
        else:
            if not path.parent.is_dir():
                raise VoteSessionError(f"The folder “{path.parent}” does not exist.")
            self.seed = seed if seed is not None else secrets.randbits(32)
            self.events = []
            self.journal.append(self._header())
        self._replay()

    # -- the session file --------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        return {
            HEADER_KEY: VERSION,
            "seed": self.seed,
            "sides": [self._side(s) for s in self.sides],
            "items": [pair.item.key for pair in self.pairs],
            "created": _now(),
        }

    @staticmethod
    def _side(side: AnswerSet) -> dict[str, Any]:
        return {"name": side.name, "path": str(side.path or "")}

    def _check(self, header: dict[str, Any]) -> dict[str, Any]:
        if header.get(HEADER_KEY) != VERSION or not isinstance(header.get("seed"), int):
            raise VoteSessionError(f"“{self.path}” is not a vote session of this version.")
        names = [s.get("name") for s in header.get("sides", []) if isinstance(s, dict)]
        if names != [s.name for s in self.sides]:
            raise VoteSessionError(
                f"“{self.path}” compares {' and '.join(map(str, names))}, not "
                f"{self.sides[0].name} and {self.sides[1].name}.",
                "Open it with the same two sides, or start a new session with another file.",
            )
        if header.get("items") != [pair.item.key for pair in self.pairs]:
            raise VoteSessionError(
                f"“{self.path}” was started on other instructions.",
                "Open it with the same instruction set, or start a new session.",
            )
        return header

    # -- state -----------------------------------------------------------------------------------

    def _replay(self) -> None:
        actions: list[dict[str, Any]] = []
        for event in self.events:
            if event.get("undo"):
                if actions:
                    actions.pop()
            elif event.get("item") in self._by_key:
                actions.append(event)
        self._actions = actions
        self.votes: dict[str, dict[str, Any]] = {}
        skipped: list[str] = []
        for action in actions:
            key = action["item"]
            if key in skipped:
                skipped.remove(key)
            if action.get("vote") in VOTES:
                self.votes[key] = action
            elif action.get("skip"):
                skipped.append(key)
        unvoted = [p.item.key for p in self.pairs if p.item.key not in self.votes]
        self._queue = [k for k in unvoted if k not in skipped] + [
            k for k in skipped if k not in self.votes
        ]
        self._skipped = set(skipped)

    def swapped(self, key: str) -> bool:
        """Whether the second side is shown as A for this item (drawn from the seed)."""
        return random.Random(f"{self.seed}:{key}").random() < 0.5

    @property
    def finished(self) -> bool:
        return not self._queue

    def current(self) -> Shown | None:
        if not self._queue:
            return None
        key = self._queue[0]
        pair = self._by_key[key]
        a, b = (pair.second, pair.first) if self.swapped(key) else (pair.first, pair.second)
        return Shown(
            len(self.votes) + 1, len(self.pairs), pair.item, a.response, b.response,
            key in self._skipped,
        )  # fmt: skip

    # -- what a person does --------------------------------------------------------------------

    def vote(self, choice: str) -> None:
        """``a``, ``b``, ``tie`` or ``both_bad`` for the item shown; saved before returning."""
        if choice not in VOTES:
            raise VoteSessionError(f"“{choice}” is not a vote.", f"Use one of {', '.join(VOTES)}.")
        shown = self.current()
        if shown is None:
            raise VoteSessionError("Every item has a vote.", "Undo a vote to change it.")
        key = shown.item.key
        swapped = self.swapped(key)
        winner = {"a": 1 if swapped else 0, "b": 0 if swapped else 1}.get(choice)
        self._record(
            {
                "item": key,
                "vote": choice,
                "shown_as_a": self.sides[1 if swapped else 0].name,
                "winner": None if winner is None else self.sides[winner].name,
                "at": _now(),
            }
        )

    def skip(self) -> None:
        shown = self.current()
        if shown is not None:
            self._record({"item": shown.item.key, "skip": True, "at": _now()})

    def undo(self) -> str:
        """Take back the last vote or skip: says which ("vote" or "skip"), "" when there is
        none (so it reads as a truth value too)."""
        if not self._actions:
            return ""
        undone = "skip" if self._actions[-1].get("skip") else "vote"
        self._record({"undo": True, "at": _now()})
        return undone

    def _record(self, event: dict[str, Any]) -> None:
        self.journal.append(event)
        self.events.append(event)
        self._replay()

    # -- results -----------------------------------------------------------------------------------

    def preferences(self) -> dict[str, float]:
        """The first side's preference per voted item (1 won, 0 lost, 0.5 tie or both bad)."""
        first = self.sides[0].name
        return {
            key: 0.5 if event["winner"] is None else float(event["winner"] == first)
            for key, event in self.votes.items()
        }

    def results(self) -> Results:
        preferences = list(self.preferences().values())
        both_bad = sum(1 for e in self.votes.values() if e["vote"] == "both_bad")
        first, second = tallies(preferences, (self.sides[0].name, self.sides[1].name), both_bad)
        return Results(first, second, len(self.votes), len(self.pairs))

    def export(self, path: Path) -> None:
        """The votes, names revealed: CSV for ``.csv``, else JSON (with the results)."""
        rows = []
        for pair in self.pairs:
            event = self.votes.get(pair.item.key)
            if event is None:
                continue
            rows.append(
                {
                    "id": pair.item.id,
                    "instruction": pair.item.instruction,
                    "input": pair.item.input,
                    "shown_as_a": event["shown_as_a"],
                    "vote": event["vote"],
                    "winner": event["winner"] or "",
                }
            )
        if path.suffix.lower() == ".csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id"])
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(path, buffer.getvalue())
            return
        results = self.results()
        summary = {
            side.name: {
                "wins": side.wins,
                "losses": side.losses,
                "ties": side.ties,
                "both_bad": side.both_bad,
                "win_rate": side.win_rate,
                "interval_95": list(side.interval),
            }
            for side in (results.first, results.second)
        }
        document = {"sides": [s.name for s in self.sides], "results": summary, "votes": rows}
        atomic_write_text(path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
