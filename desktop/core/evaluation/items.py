"""Instruction sets: what the models of a comparison are asked.

Three formats are read, told apart by their content (not their name):

- Alpaca: a JSON list (or JSON Lines) of ``{"instruction", "input"}`` objects;
- Self-Instruct's user-oriented set: JSON Lines of ``{"id", "instruction", "instances":
  [{"input", …}]}`` (the first instance's input is asked);
- a plain list of questions: one per line (blank lines and ``#`` comments skipped), or a JSON
  list of strings.

Items are paired across sides by their text (instruction and input, whitespace-normalised), so
an answer file made elsewhere (text-davinci-003's answers) pairs with the set it answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.errors import PromptFileError
from conversion.input_files import read_bounded

MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class EvalItem:
    """One instruction (with its optional input) of a set."""

    id: str
    instruction: str
    input: str = ""

    @property
    def key(self) -> str:
        """What pairs this item with the same item in another file (text, not position)."""
        return item_key(self.instruction, self.input)

    @property
    def question(self) -> str:
        """The item as one chat message: the instruction, then its input."""
        return (
            f"{self.instruction.strip()}\n\n{self.input.strip()}"
            if self.input.strip()
            else (self.instruction.strip())
        )


def item_key(instruction: str, input: str = "") -> str:
    text = " ".join(instruction.split()) + "\x00" + " ".join(input.split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def load_prompts(path: Path) -> list[EvalItem]:
    """The items of the instruction set at ``path``; PromptFileError names a bad line."""
    try:
        data = read_bounded(path, MAX_PROMPT_FILE_BYTES)
    except FileNotFoundError:
        raise PromptFileError(f"The instruction set “{path}” does not exist.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PromptFileError(f"“{path.name}” line {line}: not UTF-8 text.") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        items = _from_json_list(path, text)
    elif stripped.startswith("{"):
        items = _from_json_lines(path, text)
    else:
        items = _from_plain_list(text)
    if not items:
        raise PromptFileError(f"“{path.name}” holds no instructions.")
    return _unique_ids(items)


def _from_json_list(path: Path, text: str) -> list[EvalItem]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptFileError(
            f"“{path.name}” line {exc.lineno}: not valid JSON ({exc.msg})."
        ) from None
    if not isinstance(records, list):
        raise PromptFileError(f"“{path.name}” line 1: a JSON list of instructions was expected.")
    starts = _element_lines(text, len(records))
    return [_item(path, starts[i], record, i) for i, record in enumerate(records)]


def _element_lines(text: str, count: int) -> list[int]:
    """The line each element of a top-level JSON list starts on (for messages)."""
    decoder = json.JSONDecoder()
    lines, position = [], text.index("[") + 1
    for _ in range(count):
        while text[position] in " \t\r\n,":
            position += 1
        lines.append(text.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(text, position)
    return lines


def _from_json_lines(path: Path, text: str) -> list[EvalItem]:
    items: list[EvalItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptFileError(
                f"“{path.name}” line {number}: not a JSON object ({exc.msg})."
            ) from None
        items.append(_item(path, number, record, len(items)))
    return items


def _from_plain_list(text: str) -> list[EvalItem]:
    questions = [line.strip() for line in text.splitlines()]
    questions = [q for q in questions if q and not q.startswith("#")]
    return [EvalItem(f"{i + 1}", q) for i, q in enumerate(questions)]


def _item(path: Path, line: int, record: Any, index: int) -> EvalItem:
    where = f"“{path.name}” line {line}"
    if isinstance(record, str):
        if not record.strip():
            raise PromptFileError(f"{where}: the question is empty.")
        return EvalItem(f"{index + 1}", record.strip())
    if not isinstance(record, dict):
        raise PromptFileError(f"{where}: an object with an “instruction” was expected.")
    instruction = record.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise PromptFileError(f"{where}: no “instruction” text.")
    given = record.get("input", "")
    instances = record.get("instances")
    if "input" not in record and isinstance(instances, list) and instances:
        first = instances[0]
        given = first.get("input", "") if isinstance(first, dict) else None
    if given is None:
        given = ""
    if not isinstance(given, str):
        raise PromptFileError(f"{where}: the “input” is not text.")
    raw_id = record.get("id")
    item_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else f"{index + 1}"
    return EvalItem(item_id, instruction.strip(), given.strip())


def _unique_ids(items: list[EvalItem]) -> list[EvalItem]:
    seen: dict[str, int] = {}
    unique = []
    for item in items:
        count = seen.get(item.id, 0)
        seen[item.id] = count + 1
        unique.append(item if not count else EvalItem(f"{item.id}#{count + 1}", *_text(item)))
    return unique


def _text(item: EvalItem) -> tuple[str, str]:
    return item.instruction, item.input
