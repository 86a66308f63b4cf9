"""A torch-free, memory-mapped safetensors reader (one file; ``weight_files`` joins shards).

Tensors are numpy views into the mapped files: nothing is read until a tensor's bytes are used,
so converting a model needs memory for about one tensor at a time, not for the model.
Supported dtypes: F32, F16 and BF16 (BF16 is widened to float32 on request, or kept as its raw
16-bit patterns for a BF16 output).
"""

from __future__ import annotations

import itertools
import json
import math
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion.errors import CheckpointError
from conversion.input_files import open_regular

MAX_HEADER = 100 * 1024 * 1024
MAX_DIMS = 8
_DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
}
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
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
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


def _entry(file: str, name: str, info: object) -> tuple[int, int, str, tuple[int, ...]]:
    """One header entry's (begin, end, dtype, shape), or a clear error for any malformed part."""

    def is_count(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62

    damaged = CheckpointError(f"“{file}” is damaged: the header entry of {name!r} is invalid.")
    if not isinstance(info, dict):
        raise damaged
    offsets, dtype, shape = info.get("data_offsets"), info.get("dtype"), info.get("shape")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(is_count, offsets))):
        raise damaged
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and all(map(is_count, shape))):
        raise damaged
    if not isinstance(dtype, str) or dtype not in _ITEM_SIZE:
        raise CheckpointError(f"“{file}”: tensor {name} has an unknown dtype {dtype!r}.")
    begin, end = offsets
    if begin > end:
        raise damaged
    return begin, end, dtype, tuple(shape)


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """Widen BF16 bit patterns (uint16) to float32 exactly (one new array, shifted in place)."""
    wide = raw.astype(np.uint32)
    wide <<= 16
    return wide.view(np.float32)


class SafetensorsFile:
    """One ``.safetensors`` file, mapped read-only.

    The header is input from anywhere: every field is checked (types, dtypes, shapes, offsets
    inside the data section, no two tensors sharing bytes) before anything is mapped, so a
    damaged or hostile header is one clear error, never a traceback or a huge allocation.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = open_regular(path)
        except OSError as exc:
            raise CheckpointError(f"Cannot open “{path.name}”: {exc.strerror}.") from exc
        try:
            self._read_header()
        except BaseException:
            self._handle.close()
            raise

    def _read_header(self) -> None:
        path = self.path
        size = os.fstat(self._handle.fileno()).st_size
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
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise CheckpointError(f"“{path.name}” has a damaged safetensors header.") from exc
        if not isinstance(header, dict):
            raise CheckpointError(f"“{path.name}” has a damaged safetensors header (not a map).")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict):
            raise CheckpointError(f"“{path.name}” has damaged safetensors metadata.")
        self.metadata = metadata
        data_start = 8 + header_size
        data_size = size - data_start
        self.tensors: dict[str, TensorRef] = {}
        for name, info in header.items():
            begin, end, dtype, shape = _entry(path.name, name, info)
            if end > data_size:
                raise CheckpointError(
                    f"“{path.name}” is truncated: tensor {name} ends at byte "
                    f"{data_start + end:,} but the file has {size:,}.",
                )
            if math.prod(shape) * _ITEM_SIZE[dtype] != end - begin:
                raise CheckpointError(
                    f"“{path.name}” is damaged: tensor {name} has shape {list(shape)} but "
                    f"{end - begin:,} bytes."
                )
            start = data_start + begin
            self.tensors[name] = TensorRef(name, path, dtype, shape, start, end - begin)
        spans = sorted((t.start, t.start + t.nbytes, t.name) for t in self.tensors.values())
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                raise CheckpointError(
                    f"“{path.name}” is damaged: tensors {first} and {second} share bytes."
                )

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
