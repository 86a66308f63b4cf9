"""Scores of a project's records: which method gave them (plain data shared by the scorers)."""

from __future__ import annotations

from typing import Literal

from desktop.core.studio.records import StudioRecord

ScoreMethod = Literal["logprob", "judge"]


class ScoredRecords(list[StudioRecord]):
    """The records with their scores; ``method`` says how they were scored, ``note`` why
    (e.g. that the server gave no log-probabilities), ``unscored`` how many got none."""

    def __init__(self, records: list[StudioRecord], method: ScoreMethod, note: str = "") -> None:
        super().__init__(records)
        self.method: ScoreMethod = method
        self.note = note
        self.unscored = sum(r.score is None for r in records)


def user_message(record: StudioRecord) -> str:
    """What the teacher is asked for a record: its instruction, and its input below it."""
    return f"{record.instruction}\n\n{record.input}" if record.input.strip() else record.instruction
