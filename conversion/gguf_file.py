"""A bounded reader for GGUF headers, used before llama.cpp ever sees a file.

It checks what a damaged or hostile file could get wrong: the magic, the version, every length
and count against the bytes actually present, and that all tensor data lies inside the file.
It returns the metadata the library needs (architecture, context length, chat template,
quantization) without loading any weights. Large arrays (the vocabulary) are skipped, not kept.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from conversion.errors import ModelFileError
from conversion.gguf_info import DEFAULT_ALIGNMENT, GGUFInfo, TensorEntry
from conversion.gguf_validate import validate_gguf

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_TENSORS = 1_000_000
MAX_KV = 100_000
MAX_DIMS = 4
MAX_KEPT_ARRAY = 64  # arrays of text longer than this are counted, not kept (the vocabulary)
MAX_KEPT_NUMBERS = 4096  # numeric arrays up to this are kept (per-layer hyperparameters)

# value type id -> struct format (scalars)
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class _Cursor:
    """Reads little-endian values from a buffer, refusing to read past its end."""

    def __init__(self, buffer: memoryview, path: Path) -> None:
        self.buffer = buffer
        self.pos = 0
        self.path = path

    def _fail(self, what: str) -> ModelFileError:
        return ModelFileError(
            f"“{self.path.name}” is truncated or damaged: {what} at byte {self.pos} runs past the "
            f"end of the file ({len(self.buffer)} bytes).",
        )

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.buffer):
            raise self._fail(what)
        chunk = self.buffer[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def scalar(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def u32(self, what: str) -> int:
        return self.scalar("<I", what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", what)

    def string(self, what: str) -> str:
        length = self.u64(f"the length of {what}")
        raw = self.take(length, what)
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_string(self, what: str) -> None:
        self.take(self.u64(f"the length of {what}"), what)


def _read_value(cur: _Cursor, value_type: int, key: str, info: GGUFInfo) -> Any:
    if value_type in _SCALARS:
        return cur.scalar(_SCALARS[value_type], f"the value of {key}")
    if value_type == _STRING:
        return cur.string(f"the value of {key}")
    if value_type == _ARRAY:
        item_type = cur.u32(f"the item type of {key}")
        count = cur.u64(f"the length of {key}")
        remaining = len(cur.buffer) - cur.pos
        if count > remaining:  # every item takes at least one byte
            raise cur._fail(f"the array {key} ({count} items)")
        info.array_lengths[key] = count
        info.array_types[key] = item_type
        keep = count <= MAX_KEPT_ARRAY
        if item_type in _SCALARS:
            keep = count <= MAX_KEPT_NUMBERS
            size = struct.calcsize(_SCALARS[item_type])
            raw = cur.take(size * count, f"the items of {key}")
            if keep:
                return [v[0] for v in struct.iter_unpack(_SCALARS[item_type], raw)]
            return None
        if item_type == _STRING:
            if keep:
                return [cur.string(f"an item of {key}") for _ in range(count)]
            for _ in range(count):
                cur.skip_string(f"an item of {key}")
            return None
        raise ModelFileError(
            f"“{info.path.name}” has an unsupported array type {item_type} in {key}.",
        )
    raise ModelFileError(
        f"“{info.path.name}” has an unknown metadata value type {value_type} in {key}.",
        "It may come from a newer GGUF writer; update Huacaya or convert the model again.",
    )


def _tensor_nbytes(type_id: int, dims: list[int], name: str, path: Path) -> int:
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(type_id)]
    except (ValueError, KeyError):
        raise ModelFileError(
            f"“{path.name}” uses tensor type {type_id} (tensor {name}), unknown to this version.",
            "Update Huacaya, or use a model quantized with a common type such as Q4_K_M.",
        ) from None
    elements = 1
    for dim in dims:
        elements *= dim
    if dims and dims[0] % block:
        raise ModelFileError(f"“{path.name}” is damaged: tensor {name} has a bad shape {dims}.")
    return elements // block * type_size


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Validate ``path`` as a complete GGUF file and return its metadata.

    Raises :class:`ModelFileError` with a message naming the problem for a missing file, a
    file that is not GGUF, an unsupported version, or a truncated or damaged file.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"The model file “{path}” does not exist.")
    if path.is_dir():
        raise ModelFileError(
            f"“{path}” is a folder, not a GGUF file.",
            "Pick the .gguf file inside it (a Hugging Face folder must be converted first).",
        )
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ModelFileError(f"Cannot open “{path}”: {exc.strerror}.") from exc
    with handle:
        size = path.stat().st_size
        if size < 24:
            raise ModelFileError(f"“{path.name}” is not a GGUF model file (only {size} bytes).")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                return _parse(view, path, size)
            finally:
                view.release()


def _parse(view: memoryview, path: Path, size: int) -> GGUFInfo:
    cur = _Cursor(view, path)
    magic = bytes(cur.take(4, "the magic"))
    if magic != GGUF_MAGIC:
        hint = "Choose a .gguf model file."
        if magic[:2] == b"PK" or magic[:1] == b"\x80":
            hint = "This looks like a PyTorch checkpoint; convert it to GGUF first."
        raise ModelFileError(f"“{path.name}” is not a GGUF model file.", hint)
    version = cur.u32("the version")
    if version not in SUPPORTED_VERSIONS:
        if version & 0xFFFF == 0 and version >> 16 in SUPPORTED_VERSIONS:
            raise ModelFileError(
                f"“{path.name}” is a big-endian GGUF file; this computer needs little-endian."
            )
        raise ModelFileError(
            f"“{path.name}” is GGUF version {version}; supported versions are 2 and 3.",
            "Convert the model again with a current converter.",
        )
    tensor_count = cur.u64("the tensor count")
    kv_count = cur.u64("the metadata count")
    if tensor_count > MAX_TENSORS or kv_count > MAX_KV:
        raise ModelFileError(
            f"“{path.name}” is damaged: it claims {tensor_count} tensors and {kv_count} "
            "metadata keys."
        )
    info = GGUFInfo(path=path, version=version, file_size=size, tensor_count=tensor_count)
    for _ in range(kv_count):
        key = cur.string("a metadata key")
        value_type = cur.u32(f"the type of {key}")
        if key in info.value_types:
            raise ModelFileError(f"“{path.name}” is damaged: the key {key[:80]} appears twice.")
        value = _read_value(cur, value_type, key, info)
        info.value_types[key] = value_type
        if value is not None:
            info.metadata[key] = value

    for _ in range(tensor_count):
        name = cur.string("a tensor name")
        n_dims = cur.u32(f"the rank of {name}")
        if n_dims > MAX_DIMS:
            raise ModelFileError(f"“{path.name}” is damaged: tensor {name} has {n_dims} dims.")
        dims = [cur.u64(f"the shape of {name}") for _ in range(n_dims)]
        type_id = cur.u32(f"the type of {name}")
        offset = cur.u64(f"the offset of {name}")
        nbytes = _tensor_nbytes(type_id, dims, name, path)
        elements = 1
        for dim in dims:
            elements *= dim
        info.parameter_count += elements
        info.tensors.append(TensorEntry(name, tuple(dims), type_id, offset, nbytes))

    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if type(alignment) is not int or alignment <= 0 or alignment & (alignment - 1):
        raise ModelFileError(f"“{path.name}” is damaged: alignment {alignment!r} is invalid.")
    info.alignment = alignment
    data_start = (cur.pos + alignment - 1) // alignment * alignment
    info.data_start = data_start
    data_end = max((t.offset + t.nbytes for t in info.tensors), default=0)
    if data_start + data_end > size:
        raise ModelFileError(
            f"“{path.name}” is truncated: its tensors need {data_start + data_end:,} bytes but the "
            f"file has {size:,}.",
            "The download or copy was probably interrupted; get the file again.",
        )
    validate_gguf(info)
    return info
