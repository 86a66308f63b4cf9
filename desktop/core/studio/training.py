"""A project's training runs: each is ``huacaya-train`` in a child process, writing into its own
folder of ``project.runs_dir``; what a window shows of a run is read from that folder alone.

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

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from conversion.errors import StudioError
from conversion.input_files import parse_json
from conversion.output import atomic_write_text
from conversion.ownership import Owner, adopt_child
from conversion.train.run_record import METRICS, MetricRow, read_manifest, read_metrics
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import (
    load_records,
    nothing_to_train,
    training_records,
    write_alpaca,
)
from desktop.core.studio.run_names import RUN_STAMP, run_label
from desktop.core.studio.training_devices import frozen

LAUNCH_FILE = ".launch.json"
OUTCOME_FILE = ".outcome.json"
STOP_FILE = ".stop"
DATA_FILE = ".data.json"
LOG_FILE = ".train.log"
MODEL_FOLDER = "model"
CHECKPOINTS = "checkpoints"
CHILD_MODULE = "desktop.core.studio.train_child"
MEASURE = ".measure"  # the one-step run that measures a step's time and memory

STARTING, RUNNING, STOPPING = "starting", "running", "stopping"
PAUSED, INTERRUPTED, FINISHED, FAILED = "paused", "interrupted", "finished", "failed"
LIVE = (STARTING, RUNNING, STOPPING)
RESUMABLE = (PAUSED, INTERRUPTED, FAILED)


@dataclass(frozen=True)
class TrainOptions:
    """What the person chooses; everything else is the recipe's default (``huacaya-train``)."""

    base: str  # a library model's id or name, or a GGUF file
    full: bool = False  # full fine-tune (where a GPU allows) instead of a LoRA adapter
    epochs: float = 3.0
    max_steps: int = 0  # > 0: this many optimizer steps instead of epochs
    max_length: int = 512
    global_batch: int = 128  # examples per optimizer step (Stanford's 128)
    save_steps: int = 10  # a checkpoint every N steps (what a kill can lose at most)

    def arguments(self, folder: Path) -> list[str]:
        """``huacaya-train``'s arguments for a run in ``folder``."""
        args = ["--base", self.base, "--data", str(folder / DATA_FILE), "--out", str(folder)]
        if not self.full:
            args.append("--lora")
        if self.max_steps > 0:
            args += ["--max-steps", str(self.max_steps)]
        args += ["--epochs", f"{self.epochs:g}", "--max-length", str(self.max_length)]
        args += ["--global-batch", str(self.global_batch), "--save-steps", str(self.save_steps)]
        return args

    def total_steps(self, records: int) -> int:
        """Optimizer steps the run will make (the Trainer's count for one process: each step
        takes ``global_batch`` examples, the last one of an epoch what is left)."""
        if self.max_steps > 0:
            return self.max_steps
        per_epoch = max(1, math.ceil(records / max(self.global_batch, 1)))
        return max(1, math.ceil(self.epochs * per_epoch))

    @property
    def method(self) -> str:
        return "full fine-tune" if self.full else "LoRA"


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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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
    launch = _read_json(folder / LAUNCH_FILE)
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


def new_run_folder(project: StudioProject) -> Path:
    """A fresh folder name under ``runs_dir``: the time it starts, sortable."""
    project.runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime(RUN_STAMP)
    folder, number = project.runs_dir / stamp, 1
    while folder.exists():
        number += 1
        folder = project.runs_dir / f"{stamp} ({number})"
    return folder


def prepare_run(project: StudioProject, options: TrainOptions, folder: Path | None = None) -> Path:
    """A new run's folder with its data and launch file; ``launch`` then starts it."""
    if not options.base:
        raise StudioError(
            "Choose the base model to fine-tune first.",
            "Pick one under Base model; install one in Models if the list is empty.",
        )
    every = load_records(project.records_path)
    records = training_records(every)
    if not records:
        raise nothing_to_train(every)
    made: Path | None = None
    try:
        folder = folder or new_run_folder(project)
        folder.mkdir(parents=True)
        made = folder
        write_alpaca(folder / DATA_FILE, records)
        _write_json(
            folder / LAUNCH_FILE,
            {
                "options": asdict(options),
                "arguments": options.arguments(folder),
                "records": len(records),
                "total_steps": options.total_steps(len(records)),
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "owner": "",
            },
        )
    except OSError as exc:
        if made is not None:  # no half-made run left behind
            shutil.rmtree(made, ignore_errors=True)
        raise StudioError(
            f"The run could not be prepared in “{project.runs_dir}”: {exc}.",
            "Check that the data folder can be written (free space, permissions).",
        ) from exc
    return folder


def prepare_measurement(project: StudioProject, options: TrainOptions) -> Path:
    """A one-step run of ``options`` on the project's records (``.measure`` in ``runs_dir``, in
    place of the previous one): its step's seconds and memory estimate the real run."""
    folder = project.runs_dir / MEASURE
    if folder.exists():
        shutil.rmtree(folder)
    return prepare_run(project, replace(options, max_steps=1, save_steps=0), folder)


def finish_measurement(folder: Path) -> None:
    """Keep the measurement's figures, drop the weights it saved (a full fine-tune's are big)."""
    for name in (MODEL_FOLDER, CHECKPOINTS):
        shutil.rmtree(folder / name, ignore_errors=True)


def measurement(project: StudioProject) -> RunView | None:
    folder = project.runs_dir / MEASURE
    return read_run(folder) if (folder / LAUNCH_FILE).is_file() else None


def estimate(project: StudioProject, options: TrainOptions, steps: int) -> str:
    """The time ``options`` will take: from the measured step of a run with the same base,
    method and batch shape (the measurement, or an earlier run), else what to do."""
    same = ("base", "full", "max_length", "global_batch")
    wanted = {k: getattr(options, k) for k in same}
    measured = measurement(project)
    runs = ([measured] if measured else []) + list_runs(project)
    for run in runs:
        if run.seconds_per_step and all(run.options.get(k) == v for k, v in wanted.items()):
            memory = f", peak memory {run.peak_memory_gib:.1f} GB" if run.peak_memory_gib else ""
            where = "" if run is measured else f" in run {run.name}"
            return (
                f"Time: about {training_duration(run.seconds_per_step * steps)} (measured: "
                f"{run.seconds_per_step:.1f} s per step{where}{memory})."
            )
    if measured is not None and measured.live:
        return "Time: measuring one step…"
    if measured is not None and measured.state == FAILED:
        return f"Time: the measurement failed: {measured.error}"
    return "Time: not measured yet (Measure time runs one step; or start, and see it after one)."


def launch(folder: Path, offline: bool = True) -> subprocess.Popen[bytes]:
    """Start (or resume) the run in ``folder`` in a child process: the arguments it was
    prepared with, so the training goes on from its last complete checkpoint. The caller polls
    the process (``poll()``) to reap it; the state is ``read_run``'s."""
    if frozen():  # sys.executable is the app itself, which has no torch
        raise StudioError(
            "This installed app cannot train: it has no training libraries.",
            "Install Huacaya with pip, with the train extra: pip install 'huacaya[train]'.",
        )
    launch_record = _read_json(folder / LAUNCH_FILE)
    arguments = launch_record.get("arguments")
    if not isinstance(arguments, list) or not (folder / DATA_FILE).is_file():
        raise StudioError(
            f"The run “{run_label(folder.name)}” cannot be started again: its launch files "
            "are missing.",
            "Start a new run.",
        )
    for name in (STOP_FILE, OUTCOME_FILE):
        (folder / name).unlink(missing_ok=True)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"  # the base is on this computer: no Hub retries
    command = [sys.executable, "-m", CHILD_MODULE, str(os.getpid()), *map(str, arguments)]
    with (folder / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    adopt_child(process.pid)  # Windows: it ends with the app (POSIX: die_with_parent)
    owner = Owner.of(process.pid)
    launch_record["owner"] = owner.tag if owner else ""
    launch_record["launched"] = time.time()
    _write_json(folder / LAUNCH_FILE, launch_record)
    return process


def request_stop(folder: Path) -> None:
    """Ask the run's child to stop at the end of its current step, saving a checkpoint."""
    if not folder.is_dir():
        raise _gone(folder)
    atomic_write_text(folder / STOP_FILE, "stop\n")


def _gone(folder: Path) -> StudioError:
    return StudioError(
        f"The run “{run_label(folder.name)}” is not on disk any more: its folder was removed.",
        "Choose another run, or start a new one.",
    )


def record_exit(folder: Path, returncode: int) -> None:
    """The run's child has exited with ``returncode``. One that ended without leaving its own
    outcome (a crash in native code, killed by the system for memory, refused arguments) is
    recorded as failed, with the end of its log, rather than shown as interrupted, which says
    the app was closed."""
    if returncode == 0 or (folder / OUTCOME_FILE).exists() or not folder.is_dir():
        return
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    last = next((line for line in reversed(log_tail(folder).splitlines()) if line.strip()), "")
    hint = "Resume goes on from the last checkpoint."
    if returncode == -getattr(signal, "SIGKILL", 9):
        hint = (
            "The system may have ended it for want of memory: try fewer examples per step or "
            "a shorter longest example. " + hint
        )
    message = f"The training process ended unexpectedly ({how})" + (f": {last}" if last else ".")
    with contextlib.suppress(OSError):  # the folder went meanwhile: nothing left to tell
        write_outcome(folder, FAILED, message, hint)


def write_outcome(folder: Path, status: str, message: str = "", hint: str = "") -> None:
    """The child's last word (``train_child``): ``paused`` or ``failed``."""
    _write_json(folder / OUTCOME_FILE, {"status": status, "message": message, "hint": hint})


def log_tail(folder: Path, lines: int = 20) -> str:
    try:
        text = (folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def training_duration(seconds: float) -> str:
    """“about 12 min”-style durations for the window."""
    whole = max(round(seconds), 0)
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    if whole >= 120:
        return f"{round(whole / 60)} min"
    return f"{whole} s"
