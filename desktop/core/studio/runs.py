"""A project's training runs as any window shows them, read from their folders alone (starting
and stopping them: ``training.py``). Each run is ``huacaya-train`` in a child process, writing
into its own folder of ``project.runs_dir``.

A run folder holds what the training writes (``manifest.json``, ``metrics.csv``,
``checkpoints/``, ``model/``, see ``conversion/train/run.py``) and, under dot names (which the
training leaves alone), the app's own files:

- ``.launch.json``: how the run was started (the options and the exact arguments, so Resume
  repeats the very command: the training resumes only a run with the same options and data) and
  the child process running it (``conversion.ownership.Owner`` tag);
- ``.data.json``: the project's training records (held-out ones excluded), written once when the
  run starts, so the run resumes on the data it began with even after the records were edited;
- ``.stop``: asks the child to stop at the end of the current step, with a checkpoint;
- ``.outcome.json``: the child's last word when it ends by itself: stopped or failed (the error);
- ``.train.log``: the child's output.

So the state is the same in every window, and after a restart: a manifest that says finished is
**finished**; a live child is **running** (**stopping** once asked); a stopped child's run is
**paused**, a failed one **failed** with the error; a run whose child died without a word (the
app was quit or killed, the computer went off) is **interrupted**. Paused, interrupted and failed
runs resume from their last complete checkpoint by being started again with the same arguments.

No torch here: the app must start without the ``train`` extra; the child imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conversion.input_files import parse_json
from conversion.ownership import Owner
from conversion.train.run_record import METRICS, MetricRow, read_manifest, read_metrics
from desktop.core.studio.project import StudioProject
from desktop.core.studio.run_names import run_label

LAUNCH_FILE = ".launch.json"
OUTCOME_FILE = ".outcome.json"
STOP_FILE = ".stop"
DATA_FILE = ".data.json"
LOG_FILE = ".train.log"
MODEL_FOLDER = "model"
CHECKPOINTS = "checkpoints"
MEASURE = ".measure"  # the one-step run that measures a step's time and memory

STARTING, RUNNING, STOPPING = "starting", "running", "stopping"
PAUSED, INTERRUPTED, FINISHED, FAILED = "paused", "interrupted", "finished", "failed"
LIVE = (STARTING, RUNNING, STOPPING)
RESUMABLE = (PAUSED, INTERRUPTED, FAILED)


@dataclass
class RunView:
    """One run as a window shows it, read from its folder (``read_run``)."""

    folder: Path
    state: str
    options: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    records: int = 0
    step: int = 0
    total_steps: int = 0
    losses: list[tuple[int, float]] = field(default_factory=list)
    tokens_per_second: float | None = None
    seconds_per_step: float | None = None
    peak_memory_gib: float | None = None
    checkpoint_step: int = 0  # the step a resume goes on from (0: from the start)
    error: str = ""
    hint: str = ""

    @property
    def name(self) -> str:
        """“5 Dec 04:12”: what every step calls the run (``run_names.run_label``)."""
        return run_label(self.folder.name)

    @property
    def method(self) -> str:
        return "full fine-tune" if self.options.get("full") else "LoRA"

    @property
    def live(self) -> bool:
        return self.state in LIVE

    @property
    def resumable(self) -> bool:
        return self.state in RESUMABLE

    @property
    def seconds_left(self) -> float | None:
        if self.seconds_per_step is None or not self.total_steps:
            return None
        return self.seconds_per_step * max(self.total_steps - self.step, 0)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def launch_record(folder: Path) -> dict[str, Any]:
    """What the run's launch file says ({} where it is missing or unreadable)."""
    return _read_json(folder / LAUNCH_FILE)


def last_checkpoint_step(folder: Path) -> int:
    """The newest complete checkpoint's step (the Trainer writes its state file last)."""
    steps = [
        int(path.name.rsplit("-", 1)[1])
        for path in (folder / CHECKPOINTS).glob("checkpoint-*")
        if path.name.rsplit("-", 1)[1].isdigit() and (path / "trainer_state.json").is_file()
    ]
    return max(steps, default=0)


def _seconds_per_step(rows: list[MetricRow]) -> float | None:
    """The median of the latest steps' wall times (the first step of a session warms up)."""
    timed = [r.seconds for r in rows if r.seconds]
    if len(timed) > 1:
        timed = timed[1:]
    timed = sorted(timed[-10:])
    return timed[len(timed) // 2] if timed else None


_read_metrics: dict[Path, tuple[tuple[int, int, int], list[MetricRow]]] = {}


def _metrics(path: Path) -> list[MetricRow]:
    """``metrics.csv``'s rows, parsed again only when the file changed (a window reads every
    run's each second; a long run has thousands of rows)."""
    try:
        info = path.stat()
    except OSError:
        return []
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)  # each write is a new file
    cached = _read_metrics.get(path)
    if cached is None or cached[0] != stamp:
        cached = _read_metrics[path] = (stamp, read_metrics(path))
    return cached[1]


def _stepped_since(folder: Path, launch: dict[str, Any]) -> bool:
    """Whether the child launched last has finished a step (a resumed run loads its base
    again before its first one: "starting", though its metrics hold earlier steps)."""
    try:
        written = (folder / METRICS).stat().st_mtime
    except OSError:
        return False
    return written >= float(launch.get("launched", 0) or 0)


def read_run(folder: Path) -> RunView:
    """What ``folder`` says of its run, whoever started it and whether or not they still run."""
    launch = launch_record(folder)
    outcome = _read_json(folder / OUTCOME_FILE)
    manifest = read_manifest(folder) or {}
    rows = _metrics(folder / METRICS)
    owner = Owner.parse(str(launch.get("owner", "")))
    alive = owner is not None and owner.alive()
    if manifest.get("status") == "finished" and (folder / MODEL_FOLDER).is_dir():
        state = FINISHED
    elif alive:
        stopping = (folder / STOP_FILE).exists()
        state = STOPPING if stopping else (RUNNING if _stepped_since(folder, launch) else STARTING)
    elif outcome.get("status") == FAILED:
        state = FAILED
    elif outcome.get("status") == PAUSED:
        state = PAUSED
    else:
        state = INTERRUPTED
    last = rows[-1] if rows else None
    peaks = [r.peak_memory_gib for r in rows if r.peak_memory_gib is not None]
    total = int(manifest.get("total_steps") or launch.get("total_steps") or 0)
    return RunView(
        folder=folder,
        state=state,
        options=dict(launch.get("options") or {}),
        started_at=str(launch.get("started_at", "")),
        records=int(launch.get("records", 0) or 0),
        step=last.step if last else 0,
        total_steps=int(manifest.get("steps") or total) if state == FINISHED else total,
        losses=[(r.step, r.loss) for r in rows],
        tokens_per_second=last.tokens_per_second if last else None,
        seconds_per_step=_seconds_per_step(rows),
        peak_memory_gib=max(peaks) if peaks else None,
        checkpoint_step=last_checkpoint_step(folder),
        error=str(outcome.get("message", "")) if state == FAILED else "",
        hint=str(outcome.get("hint", "")) if state == FAILED else "",
    )


def list_runs(project: StudioProject) -> list[RunView]:
    """The project's runs, newest first (a folder without the app's launch file is not one,
    nor is the time measurement)."""
    root = project.runs_dir
    try:  # a window asks every second: a folder removed or unreadable meanwhile has no runs
        folders = [
            p for p in root.iterdir() if (p / LAUNCH_FILE).is_file() and not p.name.startswith(".")
        ]
    except OSError:
        return []
    return [read_run(folder) for folder in sorted(folders, reverse=True)]


def measurement(project: StudioProject) -> RunView | None:
    """The project's one-step time measurement (``training.prepare_measurement``), or None."""
    folder = project.runs_dir / MEASURE
    return read_run(folder) if (folder / LAUNCH_FILE).is_file() else None


def log_tail(folder: Path, lines: int = 20) -> str:
    try:
        text = (folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])
