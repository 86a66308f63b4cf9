"""What a run leaves in ``--out`` to be reproduced and followed: ``manifest.json`` (every option,
the data's sha256, package versions, git revision, hardware), ``metrics.csv`` (one row per
optimizer step) and ``loss.png``. Every file is written to a temporary name and renamed."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from conversion.output import atomic_write_bytes, atomic_write_text

MANIFEST = "manifest.json"
METRICS = "metrics.csv"
LOSS_PLOT = "loss.png"
METRIC_COLUMNS = ("step", "loss", "learning_rate", "tokens_per_second", "epoch")
SPEED_COLUMNS = ("mfu", "peak_memory_gib", "seconds")  # empty where unknown (MFU on a CPU)
PACKAGES = ("huacaya", "torch", "transformers", "peft", "accelerate", "deepspeed", "tokenizers")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_revision() -> str:
    """The commit of this source tree (with ``-dirty`` when it has changes), or ""."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if commit.returncode:
        return ""
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def hardware() -> dict[str, Any]:
    import psutil
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "torch_threads": torch.get_num_threads(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
    }
    if torch.cuda.is_available():
        info["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
            }
            for i in range(torch.cuda.device_count())
        ]
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        info["gpus"] = [{"name": "Apple MPS"}]
    return info


def read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@dataclass
class MetricRow:
    step: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    epoch: float
    mfu: float | None = None  # model FLOPs utilisation, 0–1
    peak_memory_gib: float | None = None
    seconds: float | None = None  # the step's wall time


class MetricsFile:
    """``metrics.csv``: rewritten whole (atomically) at each step, so a kill never leaves half a
    row; a resumed run first drops the rows after its checkpoint, then writes them again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[MetricRow] = []

    def load(self, up_to_step: int) -> None:
        self.rows = [row for row in read_metrics(self.path) if row.step <= up_to_step]

    def add(self, row: MetricRow) -> None:
        self.rows = [r for r in self.rows if r.step < row.step] + [row]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(METRIC_COLUMNS + SPEED_COLUMNS)
        for r in self.rows:
            rate, speed = f"{r.learning_rate:.6e}", f"{r.tokens_per_second:.1f}"
            extra = [
                "" if value is None else f"{value:.{digits}f}"
                for value, digits in ((r.mfu, 4), (r.peak_memory_gib, 2), (r.seconds, 3))
            ]
            writer.writerow([r.step, f"{r.loss:.6f}", rate, speed, f"{r.epoch:.4f}", *extra])
        atomic_write_text(self.path, buffer.getvalue())


def read_metrics(path: Path) -> list[MetricRow]:
    try:  # a window reads it every second: a damaged or unreadable file has no rows
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        try:
            step, *values = (float(record[c]) for c in METRIC_COLUMNS)
            row = MetricRow(int(step), *values)
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
        for column in SPEED_COLUMNS:  # absent in runs recorded before these columns
            value = record.get(column) or ""
            try:
                setattr(row, column, float(value) if value else None)
            except ValueError:
                continue
        rows.append(row)
    for row in rows:
        row.step = int(row.step)
    return rows


def plot_loss(metrics: Path, target: Path, title: str) -> None:
    """The loss curve (and the learning rate on a second axis) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = read_metrics(metrics)
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axis = figure.add_subplot()
    axis.plot([r.step for r in rows], [r.loss for r in rows], color="#8a4f2a", label="loss")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    rate = axis.twinx()
    rate.plot([r.step for r in rows], [r.learning_rate for r in rows], color="#888", lw=0.8)
    rate.set_ylabel("learning rate", color="#888")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(target, buffer.getvalue())


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
