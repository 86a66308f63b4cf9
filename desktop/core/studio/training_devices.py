"""What a training run would run on, as the training's own code sees it (PyTorch, asked in a
child process: the app does not import torch), and what a run's weights cost in memory."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any


def frozen() -> bool:
    """The packaged app (PyInstaller), which leaves the training extra out."""
    return bool(getattr(sys, "frozen", False))


def memory_floor_gib(parameters: int, full: bool) -> float:
    """The memory the weights alone take in training (fp32 weights, as the recipe keeps them;
    a full fine-tune adds fp32 gradients and AdamW's two moments: 16 bytes a parameter).
    Activations come on top: the measured peak tells the rest."""
    return parameters * (16 if full else 4) / 2**30


DEVICE_PROBE = """
import json, sys
try:
    import torch
except ImportError as exc:
    print(json.dumps({"missing": exc.name or "torch"})); sys.exit(0)
gpus = []
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        gpus.append({"name": p.name, "memory_gib": p.total_memory / 2**30})
mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
print(json.dumps({"gpus": gpus, "mps": mps}))
"""


@dataclass(frozen=True)
class TrainingDevices:
    """What the training would run on, as its own code detects it (torch, in a child process:
    the app does not import torch)."""

    gpus: list[dict[str, Any]] = field(default_factory=list)  # CUDA: name, memory_gib
    mps: bool = False
    missing: str = ""  # a package of the train extra that is not installed

    def describe(self) -> str:
        if self.missing:
            return "no training libraries"
        if self.gpus:
            gpu = self.gpus[0]
            return f"{gpu['name']} ({gpu['memory_gib']:.0f} GB)"
        return "Apple GPU (MPS)" if self.mps else "CPU"

    def full_fits(self, parameters: int) -> bool:
        """A full fine-tune is offered on a CUDA GPU whose memory holds the weights, gradients
        and optimizer state with room for activations (LoRA elsewhere: CPU and MPS)."""
        need = memory_floor_gib(parameters, full=True) * 1.25
        return bool(self.gpus) and parameters > 0 and self.gpus[0]["memory_gib"] >= need


def detect_devices(timeout: float = 120.0) -> TrainingDevices:
    """Ask PyTorch, in a child process, what it would train on (a few seconds)."""
    if frozen():
        return TrainingDevices(missing="torch")
    try:
        done = subprocess.run(
            [sys.executable, "-c", DEVICE_PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return TrainingDevices()  # unknown: the CPU, LoRA; the run itself says what is wrong
    return TrainingDevices(
        gpus=list(found.get("gpus") or []),
        mps=bool(found.get("mps")),
        missing=str(found.get("missing") or ""),
    )
