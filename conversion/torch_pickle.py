"""A safe, torch-free reader for PyTorch checkpoints (``.bin``, ``.pt``, ``.pth``).

``torch.save`` writes a zip: ``<name>/data.pkl`` is a pickle describing the state dict, and each
tensor storage is a raw, uncompressed entry ``<name>/data/<key>``. Older files (PyTorch < 1.6)
are one stream: a few pickles followed by the raw storages. Unpickling normally imports and
calls whatever the pickle names, so a malicious file can run any code. Here the unpickler
resolves only the handful of globals a state dict needs, each to a harmless function of ours
that merely records what the tensor looks like (storage, offset, shape, strides); any other
global is refused by name before anything is called. The storages are then memory-mapped from
the file, like safetensors: tensors identical to ``torch.load(weights_only=True)``'s, with no
code from the file run and no PyTorch needed.
"""

from __future__ import annotations

import collections
import io
import mmap
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from conversion.errors import PickleCheckpointError, UnsafePickleError
from conversion.input_files import open_regular

MAX_PICKLE_BYTES = 256 * 1024 * 1024  # a 70B model's data.pkl is well under 1 MB
MAX_DEPTH = 4  # {"state_dict": {"name": tensor}} at most
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature … file name length, extra length


@dataclass(frozen=True)
class StorageType:
    """What ``torch.FloatStorage`` and friends resolve to: a dtype, nothing callable."""

    name: str
    dtype: str  # safetensors' spelling: F32, BF16, I64…
    numpy: np.dtype


STORAGE_TYPES = {
    name: StorageType(name, dtype, np.dtype(numpy))
    for name, dtype, numpy in (
        ("FloatStorage", "F32", "<f4"),
        ("HalfStorage", "F16", "<f2"),
        ("BFloat16Storage", "BF16", "<u2"),  # raw bit patterns, widened on request
        ("DoubleStorage", "F64", "<f8"),
        ("LongStorage", "I64", "<i8"),
        ("IntStorage", "I32", "<i4"),
        ("ShortStorage", "I16", "<i2"),
        ("CharStorage", "I8", "i1"),
        ("ByteStorage", "U8", "u1"),
        ("BoolStorage", "BOOL", "?"),
    )
}


@dataclass(frozen=True)
class StorageRef:
    """A storage the pickle refers to (its bytes are located after unpickling)."""

    key: str
    type: StorageType
    numel: int
    view_offset: int = 0  # legacy files: a storage may be a view into another one


@dataclass(frozen=True)
class PickledTensor:
    """A tensor as the pickle describes it: a strided view into one storage."""

    storage: StorageRef
    offset: int  # in elements
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def dtype(self) -> str:
        return self.storage.type.dtype

    @property
    def extent(self) -> int:
        """How many storage elements from ``offset`` on the view touches."""
        if any(size == 0 for size in self.shape):
            return 0
        return 1 + sum(
            (size - 1) * step for size, step in zip(self.shape, self.stride, strict=True)
        )


class _Marker:
    """``torch.Tensor`` / ``Parameter`` as the type argument of ``_rebuild_from_type_v2``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ValueError(f"the tensor {what} {value!r} is not a tuple of non-negative integers")
    return value


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> Any:
    """Stands in for ``torch._utils._rebuild_tensor(_v2)``: records, never calls anything."""
    if not isinstance(storage, StorageRef):
        raise ValueError(f"a tensor refers to {type(storage).__name__}, not a storage")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ValueError(f"bad storage offset {offset!r}")
    shape, strides = _int_tuple(size, "shape"), _int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise ValueError(f"shape {shape} and stride {strides} differ in length")
    tensor = PickledTensor(storage, offset, shape, strides)
    if tensor.extent and offset + tensor.extent > storage.numel:
        raise ValueError(
            f"a tensor of shape {list(shape)} at offset {offset} overruns its storage of "
            f"{storage.numel} elements"
        )
    return tensor


def _rebuild_parameter(data: Any, *_ignored: Any) -> Any:
    """Stands in for ``torch._utils._rebuild_parameter(_with_state)``: the plain tensor."""
    if not isinstance(data, PickledTensor):
        raise ValueError("a parameter wraps something other than a tensor")
    return data


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
    """Stands in for ``torch._tensor._rebuild_from_type_v2`` (tensor or Parameter only)."""
    if func not in (_rebuild_tensor, _rebuild_parameter) or not isinstance(new_type, _Marker):
        raise ValueError("a tensor is rebuilt with an unexpected function or type")
    if not isinstance(args, tuple):
        raise ValueError("bad tensor arguments")
    return func(*args)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Tensor"): _Marker("torch.Tensor"),
    ("torch.nn.parameter", "Parameter"): _Marker("torch.nn.Parameter"),
    **{("torch", name): storage for name, storage in STORAGE_TYPES.items()},
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only ``_ALLOWED`` globals; storages become ``StorageRef``s."""

    def __init__(self, file: IO[bytes], file_name: str, legacy: bool) -> None:
        super().__init__(file)
        self.file_name = file_name
        self.legacy = legacy

    def find_class(self, module: str, name: str) -> Any:
        # Every way a pickle can name a callable (GLOBAL, STACK_GLOBAL, INST, OBJ via GLOBAL,
        # EXT*) goes through find_class, so refusing here refuses before anything runs.
        found = _ALLOWED.get((module, name))
        if found is None:
            raise UnsafePickleError(
                f"“{self.file_name}” tries to load {module}.{name}, which a model's weights never "
                "need, so Huacaya refused the file without running anything from it."
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise ValueError(f"unexpected persistent id {str(pid)[:80]!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, StorageType):
            raise ValueError(f"unexpected storage type {str(storage_type)[:80]!r}")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise ValueError("bad storage key or size")
        view_offset = 0
        if self.legacy and len(pid) > 5 and pid[5] is not None:
            view = pid[5]
            if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int)):
                raise ValueError("bad storage view")
            view_offset = view[1]
        return StorageRef(key, storage_type, numel, view_offset)


def _unpickle(data: bytes | IO[bytes], file_name: str, legacy: bool = False) -> Any:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return _SafeUnpickler(stream, file_name, legacy).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # a damaged pickle raises any of a dozen exception types
        raise PickleCheckpointError(
            f"“{file_name}” is damaged or not a PyTorch state dict ({type(exc).__name__}: "
            f"{str(exc)[:200]})."
        ) from exc


def _state_dict(obj: Any, file_name: str, depth: int = 0) -> dict[str, PickledTensor]:
    """The name → tensor mapping, also when wrapped as {"state_dict": …} or {"model": …}."""
    if not isinstance(obj, dict) or depth > MAX_DEPTH:
        raise PickleCheckpointError(
            f"“{file_name}” holds a {type(obj).__name__}, not a state dict of named tensors."
        )
    tensors: dict[str, PickledTensor] = {}
    nested: list[dict[str, PickledTensor]] = []
    for name, value in obj.items():
        if not isinstance(name, str):
            raise PickleCheckpointError(f"“{file_name}” has a tensor named {name!r}, not a text.")
        if isinstance(value, PickledTensor):
            tensors[name] = value
        elif isinstance(value, dict) and name in ("state_dict", "model", "module"):
            nested.append(_state_dict(value, file_name, depth + 1))
    if not tensors and len(nested) == 1:
        return nested[0]
    if not tensors:
        raise PickleCheckpointError(f"“{file_name}” holds no tensors.")
    return tensors


@dataclass(frozen=True)
class _Extent:
    start: int  # absolute offset of the storage's first byte in the file
    nbytes: int


class TorchFile:
    """One PyTorch checkpoint file: its tensors, mapped read-only on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = open_regular(path)
        except OSError as exc:
            raise PickleCheckpointError(f"Cannot open “{path.name}”: {exc.strerror}.") from exc
        self.size = os.fstat(self._handle.fileno()).st_size
        self.big_endian = False
        try:
            if zipfile.is_zipfile(self._handle):
                self.tensors, self._extents = self._read_zip()
            else:
                self.tensors, self._extents = self._read_legacy()
        except BaseException:
            self._handle.close()
            raise
        for name, tensor in self.tensors.items():
            extent = self._extents.get(tensor.storage.key)
            itemsize = tensor.storage.type.numpy.itemsize
            needed = (tensor.storage.view_offset + tensor.offset + tensor.extent) * itemsize
            if extent is None or needed > extent.nbytes:
                self._handle.close()
                raise PickleCheckpointError(
                    f"“{path.name}” is damaged or truncated: tensor {name} lies outside its "
                    "stored data."
                )

    # -- the zip format (PyTorch ≥ 1.6) ------------------------------------------------------

    def _read_zip(self) -> tuple[dict[str, PickledTensor], dict[str, _Extent]]:
        name = self.path.name
        try:
            archive = zipfile.ZipFile(self._handle)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise PickleCheckpointError(f"“{name}” is a damaged zip file.") from exc
        entries = {info.filename: info for info in archive.infolist()}
        pickles = [n for n in entries if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise PickleCheckpointError(f"“{name}” is a zip file, but not one PyTorch wrote.")
        prefix = pickles[0][: -len("data.pkl")]
        info = entries[pickles[0]]
        if info.file_size > MAX_PICKLE_BYTES:
            raise PickleCheckpointError(f"“{name}” has an implausibly large data.pkl.")
        if f"{prefix}byteorder" in entries:
            order = archive.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            self.big_endian = order == "big"
        try:
            tensors = _state_dict(_unpickle(archive.read(info), name), name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PickleCheckpointError(f"“{name}” is damaged: {exc}.") from exc
        extents = {}
        for key in {t.storage.key for t in tensors.values()}:
            entry = entries.get(f"{prefix}data/{key}")
            if entry is None:
                raise PickleCheckpointError(f"“{name}” lacks the data of storage {key}.")
            extents[key] = self._stored_extent(entry)
        return tensors, extents

    def _stored_extent(self, entry: zipfile.ZipInfo) -> _Extent:
        if entry.compress_type != zipfile.ZIP_STORED or entry.compress_size != entry.file_size:
            raise PickleCheckpointError(
                f"“{self.path.name}” stores its tensors compressed, which PyTorch never does.",
                "Save the weights again with torch.save, or use a safetensors version.",
            )
        self._handle.seek(entry.header_offset)
        header = self._handle.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size:
            raise PickleCheckpointError(f"“{self.path.name}” is truncated.")
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        if signature != b"PK\x03\x04":
            raise PickleCheckpointError(f"“{self.path.name}” is a damaged zip file.")
        start = entry.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if start + entry.file_size > self.size:
            raise PickleCheckpointError(f"“{self.path.name}” is truncated.")
        return _Extent(start, entry.file_size)

    # -- the legacy format (PyTorch < 1.6) ---------------------------------------------------

    def _read_legacy(self) -> tuple[dict[str, PickledTensor], dict[str, _Extent]]:
        name = self.path.name
        handle = self._handle
        handle.seek(0)
        try:
            magic = _unpickle(handle, name)
        except UnsafePickleError:
            raise
        except PickleCheckpointError as exc:
            raise PickleCheckpointError(
                f"“{name}” is not a PyTorch checkpoint (neither a zip nor a pickle).",
                "Check that the download is complete; the file may be an error page.",
            ) from exc
        if magic != _LEGACY_MAGIC:
            raise PickleCheckpointError(
                f"“{name}” is a pickle, but not a PyTorch checkpoint (a tar-era or foreign file)."
            )
        _unpickle(handle, name)  # protocol version
        _unpickle(handle, name)  # sys info
        tensors = _state_dict(_unpickle(handle, name, legacy=True), name)
        keys = _unpickle(handle, name)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise PickleCheckpointError(f"“{name}” is damaged (bad storage list).")
        types = {t.storage.key: t.storage.type for t in tensors.values()}
        extents = {}
        position = handle.tell()
        for key in keys:
            handle.seek(position)
            head = handle.read(8)
            if len(head) < 8:
                raise PickleCheckpointError(f"“{name}” is truncated.")
            (numel,) = struct.unpack("<q", head)
            itemsize = types[key].numpy.itemsize if key in types else 1
            nbytes = numel * itemsize
            if numel < 0 or position + 8 + nbytes > self.size or key not in types:
                raise PickleCheckpointError(f"“{name}” is damaged or truncated.")
            extents[key] = _Extent(position + 8, nbytes)
            position += 8 + nbytes
        return tensors, extents

    # -- reading ---------------------------------------------------------------------------

    def raw(self, name: str) -> np.ndarray:
        """The tensor as stored (BF16 as uint16 bit patterns): a read-only, possibly strided view.

        As in the safetensors reader, each call maps just the bytes of this view, released with
        the array, so converted pages leave memory.
        """
        tensor = self.tensors[name]
        dtype = tensor.storage.type.numpy
        if self.big_endian:
            dtype = dtype.newbyteorder(">")
        if tensor.extent == 0:
            return np.zeros(tensor.shape, dtype=dtype)
        itemsize = dtype.itemsize
        begin = self._extents[tensor.storage.key].start + (
            (tensor.storage.view_offset + tensor.offset) * itemsize
        )
        length = tensor.extent * itemsize
        aligned = begin - begin % mmap.ALLOCATIONGRANULARITY
        mapping = mmap.mmap(
            self._handle.fileno(), begin + length - aligned, offset=aligned, access=mmap.ACCESS_READ
        )
        flat = np.frombuffer(mapping, dtype=dtype, count=tensor.extent, offset=begin - aligned)
        view = np.lib.stride_tricks.as_strided(
            flat, tensor.shape, [step * itemsize for step in tensor.stride], writeable=False
        )
        return view.astype(dtype.newbyteorder("<"), copy=False) if self.big_endian else view

    def nbytes(self, name: str) -> int:
        tensor = self.tensors[name]
        return int(np.prod(tensor.shape, dtype=np.int64)) * tensor.storage.type.numpy.itemsize

    def close(self) -> None:
        self._handle.close()  # mappings handed out stay valid until their arrays go
