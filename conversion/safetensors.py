"""A torch-free, memory-mapped safetensors reader (one file; ``weight_files`` joins shards).

Tensors are numpy views into the mapped files: nothing is read until a tensor's bytes are used,
so converting a model needs memory for about one tensor at a time, not for the model.
Supported dtypes: F32, F16 and BF16 (BF16 is widened to float32 on request, or kept as its raw
16-bit patterns for a BF16 output).
"""

from __future__ import annotations

import json
import mmap
import struct
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

    def nbytes(self, name: str) -> int:
        return self.tensors[name].nbytes

    def close(self) -> None:
        self._handle.close()  # mappings handed out stay valid until their arrays go
