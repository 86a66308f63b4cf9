"""The catalogue's three Alpaca entries install through the app's job pipeline, against a loopback
Hub serving tiny stand-ins with the real repositories' file layouts: PyTorch ``.bin`` shards and
their index, a trainer's ``training_args.bin`` beside them, a LoRA ``adapter_model.bin`` whose
base is another repository (with both safetensors and ``.bin`` copies), and a weight diff added
to a local LLaMA folder."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from conversion import weight_diff
from conversion.errors import ConversionError
from conversion.train.lora import peft_checkpointing_warning_ignored
from desktop.core.hub.client import HubClient
from desktop.core.jobs.runner import JobRunner
from desktop.core.jobs.store import JobStore
from desktop.core.models.catalog import find_entry, job_spec
from desktop.core.models.library import ModelLibrary
from tests.conversion.test_torch_pickle import Reduce, shard_as_pickles
from tests.hub_server import LoopbackHub


def pickled_copy(source: Path, target: Path, shards: int, llama_alias: bool = False) -> Path:
    folder = shutil.copytree(source, target)
    shard_as_pickles(folder, shards)
    if llama_alias:  # how the March 2023 conversions name the architecture
        config = json.loads((folder / "config.json").read_text())
        config["architectures"] = ["LLaMAForCausalLM"]
        (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def alpaca_hub(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("alpaca-hub")
    native = pickled_copy(tiny_llama, root / "alpaca-native", shards=3, llama_alias=True)
    (native / "trainer_state.json").write_text("{}")
    # a trainer's pickle of Python objects: downloading or opening it would be a bug
    (native / "training_args.bin").write_bytes(pickle.dumps(Reduce(os.system, "false")))

    # Weight diff = tuned − raw. With raw = tuned / 2 (exact in float32), the diff is tuned / 2
    # too, and raw + diff gives tiny_llama back bit for bit.
    halves = {n: t / 2 for n, t in load_file(tiny_llama / "model.safetensors").items()}
    diff = pickled_copy(tiny_llama, root / "alpaca-wdiff", shards=3)
    raw_llama = pickled_copy(tiny_llama, root / "llama-7b-local", shards=2)
    for folder in (diff, raw_llama):
        for shard in folder.glob("pytorch_model-*.bin"):
            names = torch.load(shard, weights_only=True).keys()
            torch.save({n: halves[n] for n in names}, shard)

    base = shutil.copytree(tiny_llama, root / "huggyllama")
    torch.save(load_file(base / "model.safetensors"), base / "pytorch_model.bin")
    adapter = root / "alpaca-lora"
    torch.manual_seed(4)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    lora.init_lora_weights = False
    with peft_checkpointing_warning_ignored():  # peft's own deprecation, as in training
        get_peft_model(model, lora).save_pretrained(adapter, safe_serialization=False)
    (adapter / "README.md").write_text("alpaca-lora")
    assert (adapter / "adapter_model.bin").is_file()

    hub = LoopbackHub()
    for repo, folder in (
        ("chavinlo/alpaca-native", native),
        ("tatsu-lab/alpaca-7b-wdiff", diff),
        ("tloen/alpaca-lora-7b", adapter),
        ("huggyllama/llama-7b", base),
    ):
        hub.add_repo(repo, {p.name: p for p in folder.iterdir() if p.is_file()})
    hub.start()
    yield {"hub": hub, "raw_llama": raw_llama, "tuned": tiny_llama}
    hub.stop()


def token_embedding(path: Path) -> np.ndarray:
    tensor = next(t for t in gguf.GGUFReader(path).tensors if t.name == "token_embd.weight")
    return gguf.quants.dequantize(tensor.data, tensor.tensor_type)


def published_sum(folder: Path) -> float:
    """What a release publishes for its integrity check: the sum of all its tuned weights."""
    return sum(float(t.double().sum()) for t in load_file(folder / "model.safetensors").values())


def test_alpaca_catalogue_entries_install_from_pickle_shards(
    alpaca_hub: dict,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub: LoopbackHub = alpaca_hub["hub"]
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    # the stand-in release's own sum, as Stanford's release publishes Alpaca-7B's
    monkeypatch.setattr(weight_diff, "ALPACA_7B_SUM", published_sum(alpaca_hub["tuned"]))
    store, library = JobStore(), ModelLibrary()
    runner = JobRunner(store, library, HubClient(lambda: None, lambda: False))
    installed = {}
    for entry_id in ("alpaca-7b-native", "alpaca-lora-7b", "alpaca-7b-wdiff"):
        entry = find_entry(entry_id)
        assert entry is not None
        base_folder = str(alpaca_hub["raw_llama"]) if entry.needs_base_folder else ""
        spec = job_spec(entry, "", base_folder)
        installed[entry_id] = runner.run(store.create(spec))
    assert {e.name for e in library.entries()} >= {
        "Alpaca 7B (native fine-tune)",
        "Alpaca-LoRA 7B (adapter + LLaMA-7B)",
        "Alpaca 7B (official weight diff)",
    }
    served = {path.rsplit("/", 1)[-1] for path in hub.requests if "/resolve/" in path}
    assert "pytorch_model-00003-of-00003.bin" in served and "adapter_model.bin" in served
    assert "training_args.bin" not in served  # never fetched, never opened
    assert "pytorch_model.bin" not in served  # the base's safetensors were enough
    # the native model and the recovered diff carry the tuned weights
    direct = token_embedding(library.path_of(installed["alpaca-7b-native"]))
    expected = load_file(alpaca_hub["tuned"] / "model.safetensors")["model.embed_tokens.weight"]
    assert np.allclose(direct, expected.float().numpy(), atol=1e-3)
    recovered = token_embedding(library.path_of(installed["alpaca-7b-wdiff"]))
    assert np.array_equal(recovered, direct)
    assert store.unfinished() == []


def test_a_weight_diff_failing_the_integrity_check_is_refused_with_the_figures(
    alpaca_hub: dict,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", alpaca_hub["hub"].url)
    monkeypatch.setattr(weight_diff, "ALPACA_7B_SUM", published_sum(alpaca_hub["tuned"]))
    store, library = JobStore(), ModelLibrary()
    runner = JobRunner(store, library, HubClient(lambda: None, lambda: False))
    entry = find_entry("alpaca-7b-wdiff")
    wrong_base = str(alpaca_hub["tuned"])  # the tuned model instead of raw LLaMA
    with pytest.raises(ConversionError, match=r"integrity check: they sum to [\d.]+, Alpaca"):
        runner.run(store.create(job_spec(entry, "", wrong_base)))
    assert library.entries() == []  # nothing registered
