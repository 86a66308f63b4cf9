"""Starting and stopping a project's training runs: a run's folder prepared with its data and
launch file, ``huacaya-train`` launched on it in a child process (again, to resume), asked to
stop, its end recorded. What a run folder holds, and how a window reads a run's state from it:
``runs.py``.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from conversion.errors import StudioError
from conversion.output import atomic_write_text
from conversion.ownership import Owner, adopt_child
from conversion.progress import duration_text
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import (
    load_records,
    nothing_to_train,
    training_records,
    write_alpaca,
)
from desktop.core.studio.run_names import RUN_STAMP, run_label
from desktop.core.studio.runs import (
    CHECKPOINTS,
    DATA_FILE,
    FAILED,
    LAUNCH_FILE,
    LOG_FILE,
    MEASURE,
    MODEL_FOLDER,
    OUTCOME_FILE,
    STOP_FILE,
    launch_record,
    list_runs,
    log_tail,
    measurement,
)
from desktop.core.studio.training_devices import frozen

CHILD_MODULE = "desktop.core.studio.train_child"


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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def new_run_folder(project: StudioProject, now: time.struct_time | None = None) -> Path:
    """A fresh folder name under ``runs_dir``: the time it starts (``now``), sortable, with
    “(2)”, “(3)”… where another of the project's runs started in the same minute: every step
    calls a run by its folder's name to the minute (``run_label``), and no two may be alike."""
    project.runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime(RUN_STAMP, now or time.localtime())
    taken = {run_label(path.name) for path in project.runs_dir.iterdir()}
    folder, number = project.runs_dir / stamp, 1
    while folder.exists() or run_label(folder.name) in taken:
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
            total = duration_text(run.seconds_per_step * steps, whole_minutes=True)
            return (
                f"Time: about {total} (measured: "
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
    the process (``poll()``) to reap it; the state is ``runs.read_run``'s."""
    if frozen():  # sys.executable is the app itself, which has no torch
        raise StudioError(
            "This installed app cannot train: it has no training libraries.",
            "Install Huacaya with pip, with the train extra: pip install 'huacaya[train]'.",
        )
    record = launch_record(folder)
    arguments = record.get("arguments")
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
    record["owner"] = owner.tag if owner else ""
    record["launched"] = time.time()
    _write_json(folder / LAUNCH_FILE, record)
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
