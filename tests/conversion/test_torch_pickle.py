"""The torch-free pickle reader: tensors identical to torch's own loader, sharded checkpoints
convert like their safetensors twins, and malicious or malformed pickles are refused without
anything in them being run."""

from __future__ import annotations

import copyreg
import io
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conversion.convert import convert
from conversion.errors import CheckpointError, PickleCheckpointError, UnsafePickleError
from conversion.torch_pickle import TorchFile
from conversion.weight_files import WeightFiles


def as_numpy(tensor: torch.Tensor) -> np.ndarray:
    """torch's tensor as numpy, BF16 as its bit patterns (what our reader's raw() gives)."""
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(np.uint16)
    return tensor.numpy()


def state_dict_with_views() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(6, 8, generator=generator)
    state = {
        "f32": base,
        "f16": torch.randn(5, 3, generator=generator).half(),
        "bf16": torch.randn(4, 7, generator=generator).bfloat16(),
        "f64": torch.randn(3, generator=generator).double(),
        "i64": torch.arange(10),
        "i32": torch.arange(-5, 5, dtype=torch.int32),
        "i16": torch.arange(4, dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        # views sharing the storage of "f32": an offset row block, a transpose, a strided column
        "rows": base[2:5],
        "transposed": base.t(),
        "column": base[:, 3],
        "every_other": base[::2, 1::3],
        "expanded": torch.randn(1, 4, generator=generator).expand(3, 4),
        "parameter": torch.nn.Parameter(torch.randn(2, 2, generator=generator)),
    }
    return state


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_tensors_equal_torch_load(tmp_path: Path, legacy: bool) -> None:
    state = state_dict_with_views()
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    reference = torch.load(path, weights_only=True)
    ours = TorchFile(path)
    try:
        assert set(ours.tensors) == set(reference)
        for name, tensor in reference.items():
            expected = as_numpy(tensor.detach())
            got = ours.raw(name)
            assert got.shape == expected.shape, name
            assert got.dtype.itemsize == expected.dtype.itemsize, name
            assert got.tobytes() == expected.tobytes(), name  # bit for bit
            assert ours.nbytes(name) == tensor.numel() * tensor.element_size(), name
    finally:
        ours.close()
    storages = {t.storage.key for t in TorchFile(path).tensors.values()}
    assert len(storages) < len(state)  # the views really share storages in the file


def test_float32_widening_matches_torch(tmp_path: Path) -> None:
    state = {"bf16": torch.randn(9, 5).bfloat16(), "f16": torch.randn(9, 5).half()}
    path = tmp_path / "w.bin"
    torch.save(state, path)
    with WeightFiles.open(path) as weights:
        for name, tensor in state.items():
            assert np.array_equal(weights.float32(name), tensor.float().numpy()), name
            assert weights.dtype(name) == name.upper()


def shard_as_pickles(folder: Path, shards: int = 3) -> None:
    """Replace model.safetensors by pytorch_model-0000i-of-0000n.bin shards and their index,
    the layout of Alpaca-era repositories."""
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map = {}
    for index in range(shards):
        shard = f"pytorch_model-{index + 1:05d}-of-{shards:05d}.bin"
        part = names[index::shards]
        torch.save({n: tensors[n] for n in part}, folder / shard)
        weight_map.update(dict.fromkeys(part, shard))
    index_file = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index_file))


def tensor_bytes(path: Path) -> dict[str, bytes]:
    return {t.name: bytes(t.data) for t in gguf.GGUFReader(path).tensors}


def test_sharded_pickle_checkpoint_converts_like_its_safetensors(
    tiny_llama: Path, tmp_path: Path
) -> None:
    pickled = shutil.copytree(tiny_llama, tmp_path / "pickled")
    shard_as_pickles(pickled)
    (pickled / "training_args.bin").write_bytes(pickle.dumps(os.system))  # never opened
    for outtype in ("f32", "bf16"):
        reference = convert(tiny_llama, tmp_path / f"reference-{outtype}.gguf", outtype)
        ours = convert(pickled, tmp_path / f"pickled-{outtype}.gguf", outtype)
        assert tensor_bytes(ours.path) == tensor_bytes(reference.path)
    (pickled / "pytorch_model-00002-of-00003.bin").unlink()
    with pytest.raises(CheckpointError, match="missing 1 of its 3 shards"):
        convert(pickled, tmp_path / "again.gguf")


# -- malicious and malformed pickles ------------------------------------------------------


def zip_checkpoint(data_pkl: bytes, storages: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out as torch.save writes it, around a pickle of our choosing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/version", "3\n")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return buffer.getvalue()


class Reduce:
    """An object whose pickle calls ``func(*args)`` when loaded."""

    def __init__(self, func, *args) -> None:  # type: ignore[no-untyped-def]
        self.func, self.args = func, args

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return self.func, self.args


def tensor_pickle(storage_type: str, key: str, numel: int, offset: int, size, stride) -> bytes:  # type: ignore[no-untyped-def]
    """A hand-written data.pkl for {"w": tensor}, so each field can be made wrong."""
    return (
        b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02("
        b"(X\x07\x00\x00\x00storageq\x03ctorch\n" + storage_type.encode() + b"\nq\x04"
        b"X"
        + len(key).to_bytes(4, "little")
        + key.encode()
        + b"X\x03\x00\x00\x00cpu"
        + pickle.dumps(numel, protocol=2)[2:-1]
        + b"tQ"
        + pickle.dumps(offset, protocol=2)[2:-1]
        + pickle.dumps(size, protocol=2)[2:-1]
        + pickle.dumps(stride, protocol=2)[2:-1]
        + b"\x89ccollections\nOrderedDict\n)Rtq\x05Rq\x06s."
    )


def good_tensor_pickle() -> bytes:
    return tensor_pickle("FloatStorage", "0", 6, 0, (2, 3), (3, 1))


def test_hand_written_tensor_pickle_is_valid(tmp_path: Path) -> None:
    """The template the malformed cases below start from loads, with torch and with us."""
    path = tmp_path / "ok.bin"
    path.write_bytes(
        zip_checkpoint(good_tensor_pickle(), {"0": np.arange(6, dtype="<f4").tobytes()})
    )
    expected = torch.load(path, weights_only=True)["w"].numpy()
    ours = TorchFile(path)
    assert np.array_equal(ours.raw("w"), expected)
    ours.close()


STORAGE = {"0": np.arange(6, dtype="<f4").tobytes()}
MALICIOUS = {
    "os.system": (pickle.dumps(Reduce(os.system, "true")), "posix.system"),
    "builtins.exec": (pickle.dumps(Reduce(exec, "x = 1")), "builtins.exec"),
    "builtins.eval": (pickle.dumps(Reduce(eval, "1 + 1")), "builtins.eval"),
    "builtins.getattr": (b"cbuiltins\ngetattr\n(cos\nsystem\nS'x'\ntR.", "builtins.getattr"),
    "__import__": (b"cbuiltins\n__import__\n(S'subprocess'\ntR.", "builtins.__import__"),
    "subprocess.Popen": (b"csubprocess\nPopen\n(S'true'\ntR.", "subprocess.Popen"),
    "protocol 0 INST": (b"(S'true'\nios\nsystem\n.", "os.system"),
    "protocol 4 STACK_GLOBAL": (pickle.dumps(Reduce(os.system, "true"), protocol=4), "system"),
    "torch.load via storage": (
        b"\x80\x02ctorch.storage\n_load_from_bytes\nC\x01xq\x00\x85R.",
        "torch.storage._load_from_bytes",
    ),
    "numpy reconstruct": (pickle.dumps(np.zeros(2)), "numpy"),
    "storage type not allowed": (
        tensor_pickle("UntypedStorage", "0", 6, 0, (2, 3), (3, 1)),
        "torch.UntypedStorage",
    ),
}
MALFORMED = {
    "not a pickle": (b"this is an error page, not weights", None, "neither a zip nor a pickle"),
    "truncated pickle": (good_tensor_pickle()[:60], STORAGE, "damaged"),
    "a list, not a dict": (pickle.dumps([1, 2, 3]), {}, "not a state dict"),
    "keys that are not text": (pickle.dumps({1: 2}), {}, "not a text"),
    "no tensors": (pickle.dumps({"epoch": 3}), {}, "no tensors"),
    "a foreign pickle": (pickle.dumps({"w": 1.0}), None, "not a PyTorch checkpoint"),
    "overruns its storage": (
        tensor_pickle("FloatStorage", "0", 6, 4, (2, 3), (3, 1)),
        STORAGE,
        "overruns its storage",
    ),
    "missing storage data": (good_tensor_pickle(), {}, "lacks the data of storage 0"),
    "storage shorter than declared": (
        tensor_pickle("FloatStorage", "0", 60, 0, (10, 6), (6, 1)),
        STORAGE,
        "outside its stored data",
    ),
    "negative stride": (
        tensor_pickle("FloatStorage", "0", 6, 0, (2, 3), (3, -1)),
        STORAGE,
        "non-negative",
    ),
    "persistent id of another kind": (
        good_tensor_pickle().replace(b"storage", b"module!"),
        STORAGE,
        "unexpected persistent id",
    ),
}


def write_case(folder: Path, data_pkl: bytes, storages: dict[str, bytes] | None) -> Path:
    path = folder / "pytorch_model.bin"
    path.write_bytes(data_pkl if storages is None else zip_checkpoint(data_pkl, storages))
    return path


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_pickles_are_refused_naming_the_global(case: str, tmp_path: Path) -> None:
    data, named = MALICIOUS[case]
    for storages in (None, STORAGE):  # as a bare pickle, and as data.pkl inside a zip
        path = write_case(tmp_path, data, storages)
        with pytest.raises(UnsafePickleError, match="tries to load") as caught:
            TorchFile(path)
        assert named in caught.value.message
        assert "run code" in caught.value.hint or "could run code" in caught.value.hint


def test_extension_codes_go_through_the_allow_list(tmp_path: Path) -> None:
    """EXT opcodes name a global by number (copyreg); they are resolved by name and refused."""
    module = os.system.__module__
    copyreg.add_extension(module, "system", 0xBEEF)
    try:
        data = pickle.dumps(Reduce(os.system, "true"), protocol=2)
        assert b"\x83" in data or b"\x82" in data  # EXT2/EXT1 instead of a GLOBAL
        with pytest.raises(UnsafePickleError, match=f"{module}.system"):
            TorchFile(write_case(tmp_path, data, None))
    finally:
        copyreg.remove_extension(module, "system", 0xBEEF)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_pickles_give_one_clear_error(case: str, tmp_path: Path) -> None:
    data, storages, message = MALFORMED[case]
    path = write_case(tmp_path, data, storages)
    with pytest.raises(PickleCheckpointError, match=message):
        TorchFile(path)


def test_compressed_storages_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", good_tensor_pickle())
        archive.writestr("archive/data/0", STORAGE["0"])
    with pytest.raises(PickleCheckpointError, match="compressed"):
        TorchFile(path)


def test_a_file_creating_payload_creates_nothing(tiny_llama: Path, tmp_path: Path) -> None:
    victim = tmp_path / "pwned.txt"
    payload = pickle.dumps(Reduce(os.system, f"touch {victim}"))
    pickle.loads(payload)  # the payload is real: plain pickle runs it
    assert victim.exists()
    victim.unlink()

    opener = pickle.dumps(Reduce(open, str(victim), "w"))
    folder = shutil.copytree(tiny_llama, tmp_path / "trojan")
    (folder / "model.safetensors").unlink()
    for data in (payload, opener):
        for storages in (None, {}):
            (folder / "pytorch_model.bin").write_bytes(
                data if storages is None else zip_checkpoint(data, storages)
            )
            with pytest.raises(UnsafePickleError):
                convert(folder, tmp_path / "out.gguf")
            assert not victim.exists()
    assert not (tmp_path / "out.gguf").exists()


# A 20-byte pickle whose memo index asks the C unpickler for a table of 2^27 entries (2 GB),
# and others that cost far more memory than their bytes.
MEMORY_BOMBS = {
    "memo index 2^27": b"\x80\x02N" + b"r" + (1 << 27).to_bytes(4, "little") + b".",
    "memo index 2^31-1 (PUT)": b"\x80\x02Np2147483647\n.",
    "bytes longer than the file": b"\x80\x03B" + (1 << 31).to_bytes(4, "little") + b"x.",
    "millions of empty lists": b"\x80\x02(" + b"]" * 3_000_000 + b"l.",
}


@pytest.mark.parametrize("case", sorted(MEMORY_BOMBS))
def test_a_pickle_cannot_take_more_memory_than_its_bytes(case: str, tmp_path: Path) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for storages in (None, STORAGE):  # a bare pickle (legacy), and data.pkl inside a zip
        path = write_case(tmp_path, MEMORY_BOMBS[case], storages)
        with pytest.raises(PickleCheckpointError) as caught:
            TorchFile(path)
        assert "Traceback" not in caught.value.message
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"{case}: {grown_mb:.0f} MB"
