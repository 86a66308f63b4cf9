"""Seed tasks: the human-written examples the teacher imitates.

Stanford's ``seed_tasks.jsonl`` has one task per line — ``instruction``, ``instances`` (a list
of ``{"input", "output"}``; the first one is used, as Stanford did), ``is_classification``
and more. A line with plain ``instruction``/``input``/``output`` keys is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversion.errors import NotARegularFileError, SeedTasksError
from conversion.input_files import json_lines, lone_surrogate, parse_json, read_text

MAX_SEED_BYTES = 64 * 1024 * 1024  # Stanford's 175 seed tasks are 40 kB


@dataclass(frozen=True)
class Task:
    """One instruction-following example: what Alpaca's data is made of."""

    instruction: str
    input: str
    output: str


def load_seed_tasks(path: Path) -> list[Task]:
    """Every task in ``path``; a malformed line raises :class:`SeedTasksError` naming it.

    Only a regular file is read (a named pipe would wait forever), of at most
    :data:`MAX_SEED_BYTES`."""
    try:
        text = read_text(path, MAX_SEED_BYTES)
    except FileNotFoundError:
        raise SeedTasksError(f"The seed tasks file “{path}” does not exist.") from None
    except NotARegularFileError as exc:
        raise SeedTasksError(exc.message) from None
    except (OSError, ValueError) as exc:
        raise SeedTasksError(f"Cannot read the seed tasks file “{path}”: {exc}.") from None
    tasks = []
    for number, line in json_lines(text):
        if line.strip():
            tasks.append(_task(line, f"line {number} of “{path}”"))
    if not tasks:
        raise SeedTasksError(f"The seed tasks file “{path}” has no tasks.")
    return tasks


def _task(line: str, where: str) -> Task:
    try:
        record = parse_json(line)
    except ValueError as exc:
        raise SeedTasksError(f"{where.capitalize()} {str(exc).removeprefix('it ')}.") from None
    if not isinstance(record, dict):
        raise SeedTasksError(f"{where.capitalize()} is not a JSON object.")
    instruction = record.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise SeedTasksError(f'{where.capitalize()} has no "instruction" text.')
    if "instances" in record:
        instances = record["instances"]
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise SeedTasksError(
                f'{where.capitalize()}: "instances" must be a list of '
                '{"input": …, "output": …} objects.'
            )
        example = instances[0]
    else:
        example = record
    values = [example.get("input", ""), example.get("output")]
    if not all(isinstance(v, str) for v in values):
        raise SeedTasksError(
            f'{where.capitalize()} needs an "output" text (and "input", if any, as text).'
        )
    for name, value in (("instruction", instruction), ("input", values[0]), ("output", values[1])):
        if lone_surrogate(value) is not None:
            raise SeedTasksError(
                f"{where.capitalize()}: its {name} holds a lone surrogate (an unpaired "
                "\\ud800–\\udfff escape), which is not text."
            )
    return Task(instruction, values[0], values[1])
