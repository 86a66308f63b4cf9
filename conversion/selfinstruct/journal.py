"""What a run has generated, kept beside its output so that an interrupted run continues.

``DATA.json.journal.jsonl`` starts with one line of settings, then has one line per batch of
requests: which requests, the records kept, and how many candidates were dropped and why.
Each line is appended and flushed to disk before the output is rewritten, so the journal is
always at least as complete as the output. A line cut short by a crash (kill -9, power loss) is
the batch that was being written: it is cut off and that batch is asked again.

The output itself (Alpaca JSON) is always rewritten whole, atomically; it is rebuilt from the
journal when a run starts, so it may lag behind the journal but is never half written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from conversion.errors import GenerationStateError

FORMAT = "huacaya-generate-data journal"
VERSION = 1
SUFFIX = ".journal.jsonl"


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + SUFFIX)


@dataclass
class Batch:
    first_request: int
    requests: int
    records: list[dict[str, object]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> str:
        return json.dumps(
            {
                "first_request": self.first_request,
                "requests": self.requests,
                "records": self.records,
                "dropped": dict(self.dropped),
            },
            ensure_ascii=False,
        )


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(
        cls, out: Path, settings: dict[str, object], force: bool
    ) -> tuple[Journal, list[Batch]]:
        """The journal of ``out`` and its batches; a new one when there is none (or ``force``).

        Refuses an output that exists without a journal, and a journal of other settings that
        already holds batches (one without any is simply started again).
        """
        journal = cls(journal_path(out))
        if not out.parent.is_dir():
            raise GenerationStateError(
                f"The output folder “{out.parent}” does not exist.", "Create it first."
            )
        if force or not journal.path.exists():
            if out.exists() and not force:
                raise GenerationStateError(
                    f"“{out}” already exists and has no journal ({journal.path.name}) beside it, "
                    "so it was not started by this command.",
                    "Choose another --out, or pass --force to replace it.",
                )
            journal._start(settings)
            return journal, []
        header, batches = journal._read()
        differences = _differences(header.get("settings", {}), settings)
        if differences and not batches:  # nothing was generated yet: nothing to keep
            journal._start(settings)
            return journal, []
        if differences:
            raise GenerationStateError(
                f"“{out}” was started with other settings: {'; '.join(differences)}.",
                "Run with the same settings to continue it, choose another --out for a new "
                "file, or pass --force to start over (its records are then replaced).",
            )
        return journal, batches

    def _start(self, settings: dict[str, object]) -> None:
        header = {"format": FORMAT, "version": VERSION, "settings": settings}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(header, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def _read(self) -> tuple[dict[str, object], list[Batch]]:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        # A last line without its newline was being written when the run stopped: drop it.
        complete = len(data) - len(lines[-1])
        if lines[-1]:
            with open(self.path, "r+b") as handle:
                handle.truncate(complete)
        lines = lines[:-1]
        try:
            header = json.loads(lines[0]) if lines else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise GenerationStateError(
                f"“{self.path}” is not a journal of huacaya-generate-data.",
                "Move it away (or pass --force to start over).",
            )
        batches = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                raw = json.loads(line)
                batch = Batch(
                    int(raw["first_request"]),
                    int(raw["requests"]),
                    list(raw["records"]),
                    Counter(raw["dropped"]),
                )
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
                raise GenerationStateError(
                    f"Line {number} of the journal “{self.path}” is damaged.",
                    "The records before it are in the output file. Move the journal away to "
                    "start a new run, or restore it from a backup.",
                ) from None
            batches.append(batch)
        return header, batches

    def append(self, batch: Batch) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(batch.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _differences(old: object, new: dict[str, object]) -> list[str]:
    if not isinstance(old, dict):
        return ["(no settings recorded)"]
    return [
        f"{key} was {_show(old.get(key))}, now {_show(value)}"
        for key, value in new.items()
        if old.get(key) != value
    ]


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"
