"""New records from Stanford-style seed tasks: ``huacaya-generate-data``'s runner, for a project.

The window asks for "N more records"; the runner's unit is a resumable output file that holds the
first ``num`` records of one run (its journal keeps the settings and every finished batch). So:

- each combination of settings (teacher, seed tasks, prompt…) has its own folder under the
  project's ``generation_dir``, named by a hash of those settings: going back to an earlier
  teacher continues its run instead of being refused;
- ``taken.json`` beside the output counts the records already handed to the project's table;
  a run asks for ``taken + N`` and hands over what lies beyond ``taken``. A run that was
  stopped (or a window that closed mid-run) hands over what it had finished, at the latest on
  the next run, and the next run continues from its journal.
- The window moves ``taken`` on itself (``keep_taken``) once the records are in its table
  (``commit=False``): records made while the app quit, whose result reached no window, are
  handed over again next time rather than counted as taken and lost.

The seed tasks file is copied into the project (``generation_dir/seed_tasks.jsonl``) once
chosen, so a project keeps working when the original file moves.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conversion.errors import Cancelled, DataGenerationError, GenerationStateError
from conversion.input_files import parse_json
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.selfinstruct.runner import GenerationConfig, generate
from conversion.selfinstruct.seeds import Task, load_seed_tasks
from conversion.selfinstruct.teachers import Teacher, parse_teacher_spec
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import StudioRecord

SOURCE = "seed tasks"
SEEDS_FILE = "seed_tasks.jsonl"
OUTPUT_FILE = "data.json"
TAKEN_FILE = "taken.json"


@dataclass
class SeedGenerationResult:
    records: list[StudioRecord]  # new ones, in the order the run kept them
    dropped: Counter[str] = field(default_factory=Counter)  # the run's, by reason
    requests: int = 0  # asked in this run
    stopped: bool = False  # the person stopped it: ``records`` holds what was finished
    folder: Path | None = None  # the run's folder, and the count handed over once ``records``
    taken: int = 0  # are kept (``keep_taken``)


def project_seed_tasks(project: StudioProject) -> Path:
    return project.generation_dir / SEEDS_FILE


def adopt_seed_tasks(project: StudioProject, source: Path) -> list[Task]:
    """Check ``source`` (raises :class:`SeedTasksError` with the line at fault) and copy it into
    the project; returns its tasks."""
    tasks = load_seed_tasks(source)
    target = project_seed_tasks(project)
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return tasks


def open_teacher(
    spec: str,
    *,
    base_url: str = "",
    api_key: str | None = None,
    resolve_model: Callable[[str], Path],
    batch_size: int = 5,
    background: bool = False,
) -> Teacher:
    """A teacher as ``huacaya-generate-data --teacher SPEC`` opens it (with its defaults);
    ``background``: a GGUF teacher decodes at a lower CPU priority (in the window, whose chat
    keeps its pace)."""
    parsed = parse_teacher_spec(spec)
    if parsed.kind == "gguf":
        from conversion.selfinstruct.gguf_teacher import GgufTeacher

        return GgufTeacher(resolve_model(parsed.name), parallel=batch_size, background=background)
    from conversion.selfinstruct.openai_teacher import OpenAITeacher

    if not base_url:
        raise DataGenerationError("An OpenAI-compatible teacher needs its server's URL.")
    return OpenAITeacher(parsed.name, base_url, api_key=api_key)


def run_folder(
    project: StudioProject, config: GenerationConfig, seeds: list[Task], t: Teacher
) -> Path:
    digest = hashlib.sha256(
        json.dumps(config.settings(seeds, t), sort_keys=True, default=str).encode()
    ).hexdigest()
    return project.generation_dir / f"run-{digest[:12]}"


def _taken(folder: Path) -> int:
    try:
        value = parse_json((folder / TAKEN_FILE).read_text(encoding="utf-8")).get("taken", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return value if isinstance(value, int) and value >= 0 else 0


def _output(folder: Path) -> list[dict[str, object]]:
    path = folder / OUTPUT_FILE
    if not path.is_file():
        return []
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataGenerationError(
            f"The generated records in “{path}” cannot be read: {exc}."
        ) from exc
    return data if isinstance(data, list) else []


def keep_taken(result: SeedGenerationResult) -> None:
    """``result``'s records are in the project: the next run hands over only newer ones."""
    if result.folder is not None:
        atomic_write_text(result.folder / TAKEN_FILE, json.dumps({"taken": result.taken}) + "\n")


def _hand_over(
    folder: Path,
    start: int,
    dropped: Counter[str],
    commit: bool,
    stopped: bool = False,
    requests: int = 0,
) -> SeedGenerationResult:
    """The output's records from ``start`` on; with ``commit``, counted as taken at once."""
    rows = _output(folder)
    new = [
        StudioRecord(
            str(r.get("instruction", "")), str(r.get("input", "")), str(r.get("output", "")), SOURCE
        )
        for r in rows[start:]
        if isinstance(r, dict)
    ]
    result = SeedGenerationResult(new, +dropped, requests, stopped, folder, max(len(rows), start))
    if commit and len(rows) > start:
        keep_taken(result)
    return result


def generate_from_seed_tasks(
    project: StudioProject,
    teacher: Teacher,
    count: int,
    config: GenerationConfig | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    commit: bool = True,
) -> SeedGenerationResult:
    """``count`` more records from the project's seed tasks (see the module's docstring);
    ``commit=False``: the caller calls ``keep_taken`` once it has kept them.

    Stopped through ``cancel``, it returns what was finished (``stopped`` set) rather than
    raising, so nothing the teacher wrote is lost. A failure leaves the finished records in the
    run's output: the next run hands them over."""
    if count < 1:
        raise DataGenerationError("Ask for at least one record.")
    path = project_seed_tasks(project)
    if not path.is_file():
        raise DataGenerationError(
            "This project has no seed tasks yet.",
            "Choose a seed tasks file (JSON Lines, like Stanford's seed_tasks.jsonl).",
        )
    seeds = load_seed_tasks(path)
    config = config or GenerationConfig()
    folder = run_folder(project, config, seeds, teacher)
    taken = _taken(folder)
    config.num = taken + count
    earlier: Counter[str] | None = None  # dropped before this run (the journal's)
    dropped: Counter[str] = Counter()

    def status(kept: int, dropped_so_far: Counter[str], activity: str) -> None:
        nonlocal earlier, dropped
        if earlier is None:
            earlier = Counter(dropped_so_far)
        dropped = Counter(dropped_so_far)
        dropped.subtract(earlier)
        progress(max(0, kept - taken) / count, status_line(kept - taken, count, dropped, activity))

    try:
        folder.mkdir(parents=True, exist_ok=True)
        result = generate(
            seeds, teacher, folder / OUTPUT_FILE, config, cancel=cancel, on_status=status
        )
    except OSError as exc:  # its journal or output could not be written (a full disk)
        raise DataGenerationError(
            f"The generated records could not be written in “{folder}”: {exc.strerror or exc}.",
            "Free some disk space, or check that the project's folder can be written; what "
            "was finished is kept, and Generate goes on from it.",
        ) from exc
    except Cancelled:
        return _hand_over(folder, taken, dropped, commit, stopped=True)
    except GenerationStateError as exc:  # the command's hint (--force, --out) is not the window's
        raise DataGenerationError(
            exc.message,
            f"This run's own files are damaged; the records in your table are not. Move the "
            f"folder “{folder}” away, then Generate again to start this run over.",
        ) from exc
    return _hand_over(folder, taken, dropped, commit, requests=result.requests)


def status_line(kept: int, count: int, dropped: Counter[str], activity: str = "") -> str:
    """For example "kept 3 of 20 · dropped 12: similar 5, cut off 4 · reply 2/5"."""
    total = sum(n for n in dropped.values() if n > 0)
    line = f"kept {max(0, kept):,} of {count:,} · dropped {total:,}"
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in dropped.most_common() if n > 0)
    line += f": {reasons}" if reasons else ""
    return f"{line} · {activity}" if activity else line
