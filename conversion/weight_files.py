"""The weight files of a checkpoint — safetensors or PyTorch pickles, single or sharded — seen
as one name → tensor mapping, read through memory maps one tensor at a time.

Safetensors win when a folder has both (as many Hub repositories do). Pickle files that are
not weights (``training_args.bin``, optimizer and scheduler states) are never opened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from conversion.errors import CheckpointError
from conversion.safetensors import SafetensorsFile, bf16_to_f32
from conversion.torch_pickle import TorchFile

SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_INDEX = "pytorch_model.bin.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
# What trainers leave beside the weights: pickles of Python objects, never opened.
NOT_WEIGHTS = re.compile(r"^(training_args|optimizer|scheduler|scaler|rng_state[^.]*)\.")


class TensorFile(Protocol):
    path: Path
    tensors: dict[str, Any]  # name → something with .shape and .dtype

    def raw(self, name: str) -> np.ndarray: ...
    def nbytes(self, name: str) -> int: ...
    def close(self) -> None: ...


def is_pickle_weights(path: Path) -> bool:
    return path.suffix in PICKLE_SUFFIXES and not NOT_WEIGHTS.match(path.name)


def pickle_weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_pickle_weights(p) and p.is_file())


def _open_file(path: Path) -> TensorFile:
    return SafetensorsFile(path) if path.suffix == ".safetensors" else TorchFile(path)


def _indexed_shards(folder: Path, index: Path) -> tuple[list[Path], dict[str, str]]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"“{index.name}” is damaged or not a shard index.") from exc
    shards = sorted(set(weight_map.values()))
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise CheckpointError(
            f"The checkpoint is missing {len(missing)} of its {len(shards)} shards: "
            f"{', '.join(missing[:3])}{'…' if len(missing) > 3 else ''}."
        )
    return [folder / s for s in shards], weight_map


def weight_paths(folder: Path) -> tuple[list[Path], dict[str, str]]:
    """The files holding a folder's weights, and the shard index's weight map (if any)."""
    for index_name, single_name in (
        (SAFETENSORS_INDEX, "model.safetensors"),
        (PICKLE_INDEX, "pytorch_model.bin"),
    ):
        if (folder / index_name).is_file():
            return _indexed_shards(folder, folder / index_name)
        if (folder / single_name).is_file():
            return [folder / single_name], {}
        found = (
            sorted(folder.glob("*.safetensors"))
            if single_name.endswith(".safetensors")
            else pickle_weight_files(folder)
        )
        if found:
            return found, {}
    raise CheckpointError(f"No weights (*.safetensors or pytorch_model*.bin) in “{folder}”.")


class WeightFiles:
    """All weight files of a checkpoint as one mapping (see the module docstring)."""

    def __init__(self, files: list[TensorFile]) -> None:
        self.files = files
        self._where: dict[str, TensorFile] = {}
        for file in self.files:
            for name in file.tensors:
                if name in self._where:
                    self.close()
                    raise CheckpointError(f"Tensor {name} appears in two shards.")
                self._where[name] = file

    @classmethod
    def open(cls, path: Path) -> WeightFiles:
        """``path``: one weight file, or a checkpoint folder (single file or sharded)."""
        paths, weight_map = ([path], {}) if path.is_file() else weight_paths(path)
        opened: list[TensorFile] = []
        try:
            for file_path in paths:
                opened.append(_open_file(file_path))
        except BaseException:
            for file in opened:
                file.close()
            raise
        weights = cls(opened)
        absent = [n for n in weight_map if n not in weights._where]
        if absent:
            weights.close()
            raise CheckpointError(
                f"The shard index lists {len(absent)} tensors that no shard contains "
                f"(first: {absent[0]}).",
            )
        return weights

    def names(self) -> list[str]:
        return list(self._where)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._where[name].tensors[name].shape)

    def dtype(self, name: str) -> str:
        return str(self._where[name].tensors[name].dtype)

    def nbytes(self, name: str) -> int:
        return self._where[name].nbytes(name)

    def raw(self, name: str) -> np.ndarray:
        return self._where[name].raw(name)

    def float32(self, name: str) -> np.ndarray:
        """The tensor as float32 (a new array for F16/BF16, a view for F32)."""
        raw = self.raw(name)
        if self.dtype(name) == "BF16":
            return bf16_to_f32(raw)
        return raw.astype(np.float32, copy=False)

    def total_bytes(self) -> int:
        return sum(file.nbytes(name) for file in self.files for name in file.tensors)

    def close(self) -> None:
        for file in self.files:
            file.close()

    def __enter__(self) -> WeightFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
