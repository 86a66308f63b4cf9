"""The base model against the fine-tune: the two sides and the instruction set of the project's
blind comparison. The comparison itself is ``desktop.core.evaluation``'s (answered, cached and
voted on there, in the Compare window); this only names what it compares."""

from __future__ import annotations

import json
from pathlib import Path

from conversion.errors import ModelNotFoundError, StudioError
from conversion.output import atomic_write_text
from desktop.core.models.library import ModelLibrary
from desktop.core.studio.finished import FinishedRun
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import held_out_records, load_records, write_alpaca

HELD_OUT_FILE = "held-out.json"
OWN_PROMPTS_FILE = "my-prompts.json"


def side_spec(library: ModelLibrary, key: str) -> str:
    """How the Compare window names an installed model as a side: its name where that is
    unambiguous (the name shown in the results), else its id."""
    entry = library.get(key)
    names = [e.name.lower() for e in library.entries()]
    return entry.name if names.count(entry.name.lower()) == 1 else entry.id


def base_side(project: StudioProject, run: FinishedRun | None, library: ModelLibrary) -> str:
    """The side of the model the fine-tune started from: an installed model, or a GGUF file."""
    given = project.info.base or (run.base_source if run is not None else "")
    if not given:
        raise StudioError(
            "This project does not say which model it fine-tunes.",
            "Choose the base model in the Train step.",
        )
    try:
        return side_spec(library, given)
    except ModelNotFoundError:
        pass
    if given.lower().endswith(".gguf") and Path(given).expanduser().is_file():
        return given
    raise StudioError(
        f"The base model “{given}” is not installed, so it cannot answer.",
        f"Install it first (Models → Manage models, or huacaya models import {given}).",
    )


def held_out_prompts(project: StudioProject) -> Path:
    """The project's held-out records as an instruction file in ``compare_dir``."""
    held = held_out_records(load_records(project.records_path))
    if not held:
        raise StudioError(
            "This project has no held-out records.",
            "Mark some records “held out” in the Data step, or type your own prompts.",
        )
    project.compare_dir.mkdir(parents=True, exist_ok=True)
    return write_alpaca(project.compare_dir / HELD_OUT_FILE, held)


def own_prompts(project: StudioProject, text: str) -> Path:
    """Prompts typed one per line, as an instruction file in ``compare_dir`` (JSON, so a line
    that looks like JSON is still one question)."""
    questions = [line.strip() for line in text.splitlines() if line.strip()]
    if not questions:
        raise StudioError("No prompts are typed.", "Type one prompt per line, or choose a file.")
    project.compare_dir.mkdir(parents=True, exist_ok=True)
    path = project.compare_dir / OWN_PROMPTS_FILE
    records = [{"instruction": q, "input": ""} for q in questions]
    atomic_write_text(path, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    return path
