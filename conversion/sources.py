"""Where converted weights come from: a checkpoint's weight files (safetensors or PyTorch
pickles), optionally with a LoRA adapter merged in or an Alpaca weight diff added to raw LLaMA
weights. All give float32 tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from conversion.archs import inspect_checkpoint
from conversion.checkpoint import Checkpoint
from conversion.weight_files import WeightFiles


class WeightSource(Protocol):
    def names(self) -> list[str]: ...
    def shape(self, name: str) -> tuple[int, ...]: ...
    def dtype(self, name: str) -> str: ...
    def float32(self, name: str) -> np.ndarray: ...
    def integrity(self) -> dict[str, float | bool]: ...


class FileSource:
    """The weights exactly as the checkpoint's files hold them."""

    def __init__(self, files: WeightFiles) -> None:
        self.files = files

    def names(self) -> list[str]:
        return self.files.names()

    def shape(self, name: str) -> tuple[int, ...]:
        return self.files.shape(name)

    def dtype(self, name: str) -> str:
        return self.files.dtype(name)

    def float32(self, name: str) -> np.ndarray:
        return self.files.float32(name)

    def integrity(self) -> dict[str, float | bool]:
        return {}


@contextmanager
def open_weights(
    ckpt: Checkpoint,
    lora: str | Path | None = None,
    recover_from: str | Path | None = None,
) -> Iterator[WeightSource]:
    """The checkpoint's weights, with the adapter merged or the diff recovered if asked."""
    from conversion.lora import LoraMerged
    from conversion.weight_diff import RecoveredFromDiff

    opened: list[WeightFiles] = []

    def load(folder: Path) -> WeightSource:
        files = WeightFiles.open(folder)
        opened.append(files)
        return FileSource(files)

    try:
        source = load(ckpt.path)
        if recover_from is not None:
            source = RecoveredFromDiff(source, load(inspect_checkpoint(recover_from).path))
        if lora is not None:
            source = LoraMerged.open(source, Path(lora), opened)
        yield source
    finally:
        for files in opened:
            files.close()
