"""A project's records: what the person reads, edits and trains on (``data.jsonl``).

One JSON object per line, Alpaca's three fields first, so the file trains as it is
(``huacaya-train --data``) and opens in any editor::

    {"instruction": "...", "input": "...", "output": "...",
     "source": "where it came from", "score": -0.42, "held_out": false}

- ``source``: how the record was made: "seed tasks", "my-notes.pdf, page 3: <the passage>"
  (grounded in a document), "imported: file.json", "written by hand".
- ``score``: the teacher's confidence in its answer (higher is better), or absent.
- ``held_out``: kept out of training, to compare the base model and the fine-tune on questions
  the fine-tune never saw.

Saved whole, through a temporary file and a rename: a crash leaves the old file or the new one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conversion.errors import StudioError
from conversion.input_files import parse_json
from conversion.output import atomic_text_file


@dataclass(frozen=True)
class StudioRecord:
    instruction: str
    input: str = ""
    output: str = ""
    source: str = ""
    score: float | None = None
    held_out: bool = False

    def alpaca(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}


def _record(item: Any, where: str) -> StudioRecord:
    if not isinstance(item, dict):
        raise StudioError(f"{where} is not a JSON object.")
    text = {}
    for key in ("instruction", "input", "output", "source"):
        value = item.get(key) or ""
        if not isinstance(value, str):
            raise StudioError(f"{where}: “{key}” is not text.")
        text[key] = value
    score = item.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise StudioError(f"{where}: “score” is not a number.")
    return StudioRecord(
        **text,
        score=None if score is None else float(score),
        held_out=bool(item.get("held_out", False)),
    )


def load_records(path: Path) -> list[StudioRecord]:
    """The records in ``path`` ([] where there is no file yet)."""
    if not path.is_file():
        return []
    records = []
    hint = (
        f"The file is left as it is: fix that line in a text editor ({path}), then choose the "
        "project again."
    )
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    where = f"Line {number} of {path.name}"
                    try:  # (parse_json: a line nested thousands deep is a message too)
                        records.append(_record(parse_json(line), where))
                    except ValueError as exc:
                        reason = str(exc).removeprefix("it ")
                        raise StudioError(f"{where} {reason}.", hint) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(
            f"{path.name} cannot be read: {exc}.",
            f"The file is left as it is: check that your user may read it ({path}), or restore "
            "it from a backup; then choose the project again.",
        ) from exc
    except StudioError as exc:
        raise StudioError(exc.message, hint) from exc
    return records


def save_records(path: Path, records: Iterable[StudioRecord]) -> None:
    """Write every record to ``path`` (a temporary file renamed into place)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_text_file(path) as handle:
            for record in records:
                row = {k: v for k, v in asdict(record).items() if v not in ("", None, False)}
                row.setdefault("input", "")
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:  # a full disk, a folder made read-only: the old file is whole
        raise StudioError(
            f"{path.name} could not be saved: {exc.strerror or exc}.",
            f"Free some disk space, or check that {path.parent} can be written. The file "
            "keeps what was saved before; what the window shows is saved at the next change.",
        ) from exc


def is_complete(record: StudioRecord) -> bool:
    """Whether ``record`` can be trained on: it has an instruction and an output (blank space is
    neither). ``training_records`` and ``left_out`` both decide by it."""
    return bool(record.instruction.strip() and record.output.strip())


def training_records(records: Iterable[StudioRecord]) -> list[StudioRecord]:
    """The records to train on: complete ones not held out."""
    return [r for r in records if not r.held_out and is_complete(r)]


def nothing_to_train(records: Sequence[StudioRecord]) -> StudioError:
    """Why ``records`` leave nothing to train on (``training_records`` is empty), and what to
    do: there are none, all are held out, or the rest lack an instruction or an output."""
    if not records:
        return StudioError(
            "This project has no records yet.",
            "Add some in step 1 (Data): generate them with a teacher, import a file, or "
            "write them.",
        )
    held = sum(r.held_out for r in records)
    if held == len(records):
        which = "The one record is" if held == 1 else f"All {held:,} records are"
        return StudioError(
            f"{which} held out (kept for Compare), so none is left to train on.",
            "In step 1 (Data), untick “Held out” on the records to train on.",
        )
    incomplete = len(records) - held
    return StudioError(
        f"None of the {len(records):,} records can be trained on: {held:,} are held out and "
        f"{incomplete:,} lack an instruction or an output.",
        "In step 1 (Data), complete those records (both boxes), or untick “Held out”.",
    )


def left_out(records: Sequence[StudioRecord]) -> str:
    """What of ``records`` is not trained on, for the line under the count ("" when nothing):
    those held out, and incomplete ones (an empty instruction or output) that would otherwise
    be missing without a word."""
    held = sum(r.held_out for r in records)
    incomplete = sum(1 for r in records if not r.held_out and not is_complete(r))
    said = [f"{held:,} held out for Compare"] if held else []
    if incomplete:
        said.append(f"{incomplete:,} left out, lacking an instruction or an output")
    return "; ".join(said)


def held_out_records(records: Iterable[StudioRecord]) -> list[StudioRecord]:
    return [r for r in records if r.held_out and r.instruction.strip()]


def write_alpaca(path: Path, records: Iterable[StudioRecord]) -> Path:
    """``records`` as an Alpaca JSON file (what ``huacaya-train --data`` and
    ``huacaya eval answer --prompts`` read), written atomically."""
    with atomic_text_file(path) as handle:
        json.dump([r.alpaca() for r in records], handle, ensure_ascii=False, indent=1)
    return path


def import_dataset(path: Path) -> list[StudioRecord]:
    """The records of a dataset file (Alpaca JSON, JSON Lines, CSV, Parquet: whatever
    ``huacaya-train --data`` reads, with the same checks and messages), marked as imported."""
    from conversion.train.data import load_training_data  # torch-free; read only when asked

    data = load_training_data(str(path))
    source = f"imported: {path.name}"
    return [StudioRecord(r.instruction, r.input, r.output, source) for r in data.records]
