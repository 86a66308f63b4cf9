"""Answer sets on disk: what one side of a comparison answered to each instruction.

``huacaya eval answer`` writes JSON Lines: a first line describing the run (``huacaya_answers``:
the model, its file's SHA-256, the prompt format, the sampling settings, whether the set is
complete), then one line per item (``id``, ``instruction``, ``input``, ``response``, how it
ended). It is written whole to a temporary file and renamed into place.

Any other file with an instruction and a ``response`` (or ``output``, as AlpacaEval writes) per
item is accepted as a side too, as JSON Lines or a JSON list: text-davinci-003's published
answers to the Self-Instruct set are the reference of Stanford's own comparison.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conversion.errors import AnswerFileError
from conversion.input_files import read_bounded
from conversion.output import atomic_write_text
from desktop.core.evaluation.items import EvalItem, item_key

HEADER_KEY = "huacaya_answers"
VERSION = 1
MAX_ANSWER_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    id: str
    instruction: str
    input: str
    response: str
    finish_reason: str = "stop"
    generated_tokens: int = 0

    @property
    def key(self) -> str:
        return item_key(self.instruction, self.input)


@dataclass
class AnswerSet:
    """One side's answers, in the order of its file; ``name`` is what the side is called."""

    name: str
    answers: list[Answer]
    meta: dict[str, Any] = field(default_factory=dict)  # the run that made it (ours only)
    path: Path | None = None

    def by_key(self) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        for answer in self.answers:
            found.setdefault(answer.key, answer)  # a repeated item: its first answer
        return found

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete", True))


def write_answer_set(path: Path, answers: AnswerSet) -> None:
    """Write ``answers`` to ``path`` atomically (temporary file + rename)."""
    header = {HEADER_KEY: VERSION, "name": answers.name, **answers.meta}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(asdict(a), ensure_ascii=False) for a in answers.answers]
    atomic_write_text(path, "\n".join(lines) + "\n")


def load_answer_set(path: Path, name: str = "") -> AnswerSet:
    """The answers in ``path`` (ours, or any file with a response per item)."""
    try:
        data = read_bounded(path, MAX_ANSWER_FILE_BYTES)
    except FileNotFoundError:
        raise AnswerFileError(f"The answer file “{path}” does not exist.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnswerFileError(f"“{path.name}” is not UTF-8 text.") from None
    records = _records(path, text)
    meta: dict[str, Any] = {}
    if records and HEADER_KEY in records[0][1]:
        meta = {k: v for k, v in records[0][1].items() if k != HEADER_KEY}
        records = records[1:]
    answers = [_answer(path, line, record, i) for i, (line, record) in enumerate(records)]
    if not answers:
        raise AnswerFileError(f"“{path.name}” holds no answers.")
    generator = next((r.get("generator") for _, r in records if isinstance(r, dict)), None)
    side_name = name or str(meta.get("name") or generator or path.stem)
    meta.pop("name", None)
    return AnswerSet(side_name, answers, meta, path)


def _records(path: Path, text: str) -> list[tuple[int, Any]]:
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnswerFileError(
                f"“{path.name}” line {exc.lineno}: not valid JSON ({exc.msg})."
            ) from None
        return [(i + 1, value) for i, value in enumerate(values)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise AnswerFileError(
                f"“{path.name}” line {number}: not a JSON object ({exc.msg})."
            ) from None
    return records


def _answer(path: Path, line: int, record: Any, index: int) -> Answer:
    where = f"“{path.name}” {'line' if path.suffix != '.json' else 'item'} {line}"
    if not isinstance(record, dict):
        raise AnswerFileError(f"{where}: an object was expected.")
    instruction = record.get("instruction")
    response = record.get("response", record.get("output"))
    if not isinstance(instruction, str) or not instruction.strip():
        raise AnswerFileError(f"{where}: no “instruction”.")
    if not isinstance(response, str):
        raise AnswerFileError(f"{where}: no “response” (or “output”) text.")
    given = record.get("input", "")
    if not isinstance(given, str):
        given = ""
    raw_id = record.get("id")
    return Answer(
        id=str(raw_id) if isinstance(raw_id, (str, int)) else f"{index + 1}",
        instruction=instruction.strip(),
        input=given.strip(),
        response=response.strip(),
        finish_reason=str(record.get("finish_reason") or "stop"),
        generated_tokens=int(record.get("generated_tokens") or 0),
    )


@dataclass(frozen=True)
class Pair:
    """One item answered by both sides."""

    item: EvalItem
    first: Answer
    second: Answer


def pair_up(first: AnswerSet, second: AnswerSet, items: list[EvalItem] | None = None) -> list[Pair]:
    """The items both sides answered, in ``items``' order (else the first side's).

    Raises AnswerFileError when they share no item, naming both sides."""
    a, b = first.by_key(), second.by_key()
    if items is None:
        items = [EvalItem(x.id, x.instruction, x.input) for x in first.answers]
    pairs, seen = [], set()
    for item in items:
        if item.key in seen or item.key not in a or item.key not in b:
            continue
        seen.add(item.key)
        pairs.append(Pair(item, a[item.key], b[item.key]))
    if not pairs:
        raise AnswerFileError(
            f"“{first.name}” and “{second.name}” answer none of the same instructions.",
            "Answer the same instruction set with both sides (huacaya eval answer --prompts).",
        )
    return pairs
