"""Bad checkpoints give clear errors, cancel works, and nothing is ever left behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.numpy import save_file

from conversion.convert import convert
from conversion.errors import (
    Cancelled,
    CheckpointError,
    OutputExistsError,
    PickleCheckpointError,
    UnsupportedModelError,
)
from conversion.progress import CancelToken
from conversion.quantize import quantize

ROOT = Path(__file__).resolve().parents[2]


def copy_checkpoint(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_missing_config(tiny_llama: Path, tmp_path: Path, out_dir: Path) -> None:
    broken = copy_checkpoint(tiny_llama, tmp_path / "no-config")
    (broken / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"has no config\.json") as caught:
        convert(broken, out_dir / "x.gguf")
    assert "config.json" in caught.value.hint
    assert outputs(out_dir) == []


def test_unknown_architecture_names_it_and_lists_supported(
    tiny_llama: Path, tmp_path: Path, out_dir: Path
) -> None:
    broken = copy_checkpoint(tiny_llama, tmp_path / "gpt")
    config = json.loads((broken / "config.json").read_text())
    config["architectures"] = ["GPTNeoXForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="GPTNeoXForCausalLM") as caught:
        convert(broken, out_dir / "x.gguf")
    assert "LlamaForCausalLM" in caught.value.hint and "MistralForCausalLM" in caught.value.hint
    assert outputs(out_dir) == []


def test_truncated_shard(tiny_llama: Path, tmp_path: Path, out_dir: Path) -> None:
    broken = copy_checkpoint(tiny_llama, tmp_path / "truncated")
    weights = broken / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        convert(broken, out_dir / "x.gguf")
    assert outputs(out_dir) == []


def test_mismatched_shapes(tiny_llama: Path, tmp_path: Path, out_dir: Path) -> None:
    broken = copy_checkpoint(tiny_llama, tmp_path / "mismatch")
    config = json.loads((broken / "config.json").read_text())
    config["intermediate_size"] = 96  # the weights say 128
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError, match=r"mlp\..*shape \[\d+, \d+\], but config.json implies"
    ):
        convert(broken, out_dir / "x.gguf")
    assert outputs(out_dir) == []


def test_missing_shard_of_a_sharded_checkpoint(
    tiny_llama: Path, tmp_path: Path, out_dir: Path
) -> None:
    from safetensors.numpy import load_file

    sharded = copy_checkpoint(tiny_llama, tmp_path / "sharded")
    tensors = load_file(sharded / "model.safetensors")
    (sharded / "model.safetensors").unlink()
    names = sorted(tensors)
    halves = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2],
    }
    for shard, shard_names in halves.items():
        save_file({n: tensors[n] for n in shard_names}, sharded / shard)
    weight_map = {n: shard for shard, shard_names in halves.items() for n in shard_names}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert convert(sharded, out_dir / "sharded.gguf", "f32").tensors == len(names)
    (sharded / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing 1 of its 2 shards"):
        convert(sharded, out_dir / "again.gguf")
    assert outputs(out_dir) == ["sharded.gguf"]


def test_damaged_pickle_weights_give_one_clear_error(
    tiny_llama: Path, tmp_path: Path, out_dir: Path
) -> None:
    broken = copy_checkpoint(tiny_llama, tmp_path / "pickle")
    (broken / "model.safetensors").unlink()
    (broken / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(PickleCheckpointError, match=r"pytorch_model\.bin") as caught:
        convert(broken, out_dir / "x.gguf")
    assert "download" in caught.value.hint
    assert outputs(out_dir) == []


def test_pickle_weights_convert_by_default(tiny_llama: Path, tmp_path: Path, out_dir: Path):
    import torch
    from safetensors.torch import load_file

    folder = copy_checkpoint(tiny_llama, tmp_path / "pickle-ok")
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    reference = convert(tiny_llama, out_dir / "reference.gguf", "f32")
    pickled = convert(folder, out_dir / "pickled.gguf", "f32")
    assert pickled.path.read_bytes()[-4096:] == reference.path.read_bytes()[-4096:]


def test_existing_output_needs_force(tiny_llama: Path, out_dir: Path) -> None:
    target = out_dir / "model.gguf"
    target.write_text("keep me")
    with pytest.raises(OutputExistsError, match="already exists") as caught:
        convert(tiny_llama, target)
    assert "--force" in caught.value.hint
    assert target.read_text() == "keep me"
    convert(tiny_llama, target, force=True)
    assert target.read_bytes()[:4] == b"GGUF"


def test_cancel_leaves_nothing_behind(tiny_llama: Path, out_dir: Path) -> None:
    cancel = CancelToken()
    seen: list[float] = []

    def progress(fraction: float, message: str = "") -> None:
        seen.append(fraction)
        if len(seen) == 5:
            cancel.cancel()

    with pytest.raises(Cancelled):
        convert(tiny_llama, out_dir / "x.gguf", "f32", progress, cancel)
    assert outputs(out_dir) == []


def test_quantize_cancel_and_bad_source(tiny_llama: Path, out_dir: Path) -> None:
    source = convert(tiny_llama, out_dir / "f32.gguf", "f32").path
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        quantize(source, out_dir / "q.gguf", "q8_0", cancel=cancel)
    not_gguf = out_dir / "notes.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(Exception, match="not a GGUF"):
        quantize(not_gguf, out_dir / "q.gguf", "q8_0")
    assert outputs(out_dir) == ["f32.gguf", "notes.gguf"]


def test_command_line_converts_and_quantizes_with_progress(tiny_llama: Path, out_dir: Path):
    target = out_dir / "tiny-q8.gguf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "conversion.cli",
            str(tiny_llama),
            "-o",
            str(target),
            "--outtype",
            "q4_k_m",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout and "100.0%" in result.stderr
    assert outputs(out_dir) == ["tiny-q8.gguf"]
    again = subprocess.run(
        [sys.executable, "-m", "conversion.cli", str(tiny_llama), "-o", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
