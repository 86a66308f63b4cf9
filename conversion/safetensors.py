"""A torch-free, memory-mapped safetensors reader (single files and sharded checkpoints).

Tensors are numpy views into the mapped files: nothing is read until a tensor's bytes are used,
so converting a model needs memory for about one tensor at a time, not for the model.
Supported dtypes: F32, F16 and BF16 (BF16 is widened to float32 on request, or kept as its raw
16-bit patterns for a BF16 output).
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.errors import CheckpointError

MAX_HEADER = 100 * 1024 * 1024
_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}
_ITEM_SIZE = {
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F64": 8,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


@dataclass(frozen=True)
class TensorRef:
    """Where one tensor lives: its file, dtype, shape and byte range inside the data section."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute offset in the file
    nbytes: int


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """Widen BF16 bit patterns (uint16) to float32 exactly (one new array, shifted in place)."""
    wide = raw.astype(np.uint32)
    wide <<= 16
    return wide.view(np.float32)


class SafetensorsFile:
    """One ``.safetensors`` file, mapped read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = path.open("rb")
        except OSError as exc:
            raise CheckpointError(f"Cannot open “{path.name}”: {exc.strerror}.") from exc
        size = path.stat().st_size
        head = self._handle.read(8)
        if len(head) < 8:
            raise CheckpointError(f"“{path.name}” is empty or truncated (no safetensors header).")
        (header_size,) = struct.unpack("<Q", head)
        if header_size > min(MAX_HEADER, size - 8):
            raise CheckpointError(
                f"“{path.name}” is not a valid safetensors file (its header claims "
                f"{header_size:,} bytes of a {size:,}-byte file)."
            )
        try:
            header = json.loads(self._handle.read(header_size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"“{path.name}” has a damaged safetensors header.") from exc
        self.metadata = header.pop("__metadata__", {}) or {}
        data_start = 8 + header_size
        self.tensors: dict[str, TensorRef] = {}
        for name, info in header.items():
            begin, end = info["data_offsets"]
            ref = TensorRef(
                name, path, info["dtype"], tuple(info["shape"]), data_start + begin, end - begin
            )
            expected = int(np.prod(ref.shape, dtype=np.int64)) * _ITEM_SIZE.get(ref.dtype, 0)
            if ref.dtype in _ITEM_SIZE and expected != ref.nbytes:
                raise CheckpointError(
                    f"“{path.name}” is damaged: tensor {name} has shape {list(ref.shape)} but "
                    f"{ref.nbytes:,} bytes."
                )
            if ref.start + ref.nbytes > size:
                raise CheckpointError(
                    f"“{path.name}” is truncated: tensor {name} ends at byte "
                    f"{ref.start + ref.nbytes:,} but the file has {size:,}.",
                )
            self.tensors[name] = ref

    def raw(self, name: str) -> np.ndarray:
        """The tensor as stored (BF16 as uint16 bit patterns), a read-only view.

        Each tensor gets its own mapping, released with the array, so pages already converted
        leave the process's memory instead of accumulating up to the model's size.
        """
        ref = self.tensors[name]
        if ref.dtype not in _DTYPES:
            raise CheckpointError(
                f"Tensor {name} in “{self.path.name}” is {ref.dtype}; only F32, F16 and BF16 "
                "weights can be converted.",
                "Use an unquantized (float) checkpoint.",
            )
        dtype = _DTYPES[ref.dtype]
        if ref.nbytes == 0:
            return np.zeros(ref.shape, dtype=dtype)
        start = ref.start - ref.start % mmap.ALLOCATIONGRANULARITY
        mapping = mmap.mmap(
            self._handle.fileno(),
            ref.start + ref.nbytes - start,
            offset=start,
            access=mmap.ACCESS_READ,
        )
        array = np.frombuffer(
            mapping, dtype=dtype, count=ref.nbytes // dtype.itemsize, offset=ref.start - start
        )
        return array.reshape(ref.shape)

    def close(self) -> None:
        self._handle.close()  # mappings handed out stay valid until their arrays go


class SafetensorsCheckpoint:
    """All safetensors files of a checkpoint, seen as one name → tensor mapping.

    ``path`` is a single ``.safetensors`` file, a folder with ``model.safetensors``, or a folder
    with a ``*.safetensors.index.json`` listing shards.
    """

    def __init__(self, files: list[Path]) -> None:
        self.files = [SafetensorsFile(f) for f in files]
        self._where: dict[str, SafetensorsFile] = {}
        for st in self.files:
            for name in st.tensors:
                if name in self._where:
                    raise CheckpointError(f"Tensor {name} appears in two shards.")
                self._where[name] = st

    @classmethod
    def open(
        cls,
        path: Path,
        index_name: str = "model.safetensors.index.json",
        single_name: str = "model.safetensors",
    ) -> SafetensorsCheckpoint:
        if path.is_file():
            return cls([path])
        index = path / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError) as exc:
                raise CheckpointError(f"“{index.name}” is damaged or not a shard index.") from exc
            shards = sorted(set(weight_map.values()))
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                raise CheckpointError(
                    f"The checkpoint is missing {len(missing)} of its {len(shards)} shards: "
                    f"{', '.join(missing[:3])}{'…' if len(missing) > 3 else ''}."
                )
            checkpoint = cls([path / s for s in shards])
            absent = [n for n in weight_map if n not in checkpoint._where]
            if absent:
                raise CheckpointError(
                    f"The shard index lists {len(absent)} tensors that no shard contains "
                    f"(first: {absent[0]}).",
                )
            return checkpoint
        if (path / single_name).is_file():
            return cls([path / single_name])
        found = sorted(path.glob("*.safetensors"))
        if found:
            return cls(found)
        raise CheckpointError(f"No .safetensors weights in “{path}”.")

    def names(self) -> list[str]:
        return list(self._where)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def ref(self, name: str) -> TensorRef:
        return self._where[name].tensors[name]

    def raw(self, name: str) -> np.ndarray:
        return self._where[name].raw(name)

    def float32(self, name: str) -> np.ndarray:
        """The tensor as float32 (a new array for F16/BF16, a view for F32)."""
        ref = self.ref(name)
        raw = self.raw(name)
        if ref.dtype == "BF16":
            return bf16_to_f32(raw)
        return raw.astype(np.float32, copy=False)

    def total_bytes(self) -> int:
        return sum(ref.nbytes for st in self.files for ref in st.tensors.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def close(self) -> None:
        for st in self.files:
            st.close()

    def __enter__(self) -> SafetensorsCheckpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
