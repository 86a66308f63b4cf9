"""Where converted weights come from: a checkpoint's safetensors, optionally with a LoRA adapter
merged in or an Alpaca weight diff added to raw LLaMA weights. All give float32 tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from conversion.checkpoint import Checkpoint
from conversion.errors import PickleCheckpointError
from conversion.safetensors import SafetensorsCheckpoint


class WeightSource(Protocol):
    def names(self) -> list[str]: ...
    def shape(self, name: str) -> tuple[int, ...]: ...
    def dtype(self, name: str) -> str: ...
    def float32(self, name: str) -> np.ndarray: ...
    def integrity(self) -> dict[str, float | bool]: ...


class SafetensorsSource:
    def __init__(self, checkpoint: SafetensorsCheckpoint) -> None:
        self.checkpoint = checkpoint

    def names(self) -> list[str]:
        return self.checkpoint.names()

    def shape(self, name: str) -> tuple[int, ...]:
        return self.checkpoint.ref(name).shape

    def dtype(self, name: str) -> str:
        return self.checkpoint.ref(name).dtype

    def float32(self, name: str) -> np.ndarray:
        return self.checkpoint.float32(name)

    def integrity(self) -> dict[str, float | bool]:
        return {}


class PickleSource:
    """Pickle weights, only when the user allowed them: read with torch's restricted loader."""

    def __init__(self, files: list[Path]) -> None:
        try:
            import torch
        except ImportError as exc:
            raise PickleCheckpointError(
                "Reading pickle weights needs PyTorch, which is not installed.",
                "Install the train extra (pip install 'huacaya[train]') or use safetensors.",
            ) from exc
        self.tensors: dict[str, np.ndarray] = {}
        self.dtypes: dict[str, str] = {}
        for file in files:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            for name, tensor in state.items():
                self.dtypes[name] = {torch.bfloat16: "BF16", torch.float16: "F16"}.get(
                    tensor.dtype, "F32"
                )
                self.tensors[name] = tensor

    def names(self) -> list[str]:
        return list(self.tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.tensors[name].shape)

    def dtype(self, name: str) -> str:
        return self.dtypes[name]

    def float32(self, name: str) -> np.ndarray:
        return self.tensors[name].float().numpy()

    def integrity(self) -> dict[str, float | bool]:
        return {}


@contextmanager
def open_weights(
    ckpt: Checkpoint,
    lora: str | Path | None = None,
    recover_from: str | Path | None = None,
    allow_pickle: bool = False,
) -> Iterator[WeightSource]:
    """The checkpoint's weights, with the adapter merged or the diff recovered if asked."""
    from conversion.lora import LoraMerged
    from conversion.weight_diff import RecoveredFromDiff

    opened: list[SafetensorsCheckpoint] = []

    def load(folder: Path, pickle_files: list[Path]) -> WeightSource:
        if pickle_files and not any(folder.glob("*.safetensors")):
            if not allow_pickle:
                raise PickleCheckpointError(f"“{folder.name}” only has pickle weights.")
            return PickleSource(pickle_files)
        checkpoint = SafetensorsCheckpoint.open(folder)
        opened.append(checkpoint)
        return SafetensorsSource(checkpoint)

    try:
        source = load(ckpt.path, ckpt.pickle_files if ckpt.pickle_only else [])
        if recover_from is not None:
            from conversion.checkpoint import inspect_checkpoint

            raw = inspect_checkpoint(recover_from, allow_pickle=allow_pickle)
            source = RecoveredFromDiff(
                source, load(raw.path, raw.pickle_files if raw.pickle_only else [])
            )
        if lora is not None:
            source = LoraMerged.open(source, Path(lora), opened)
        yield source
    finally:
        for checkpoint in opened:
            checkpoint.close()
