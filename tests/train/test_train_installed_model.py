"""The issue's command, offline on a fresh data folder: a LoRA on the installed starter model,
exported back into a GGUF of the starter's own quantization, that answers like the trained model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from conversion.train.lora import peft_checkpointing_warning_ignored
from desktop.core.models.library import ModelLibrary
from tests.scoring import Scorer, agreement
from tests.train.conftest import write_records

ROOT = Path(__file__).resolve().parents[2]
PROMPT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n"
    "### Response:\nEat well, sleep enough and move every day."
)


@pytest.mark.timeout(1500)  # two steps, a conversion and an export on a shared 2-core machine
def test_a_lora_on_the_installed_starter_merges_back_into_its_quantization(
    tmp_path: Path, huacaya_home: Path, short_seed_records, starter_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data = write_records(tmp_path / "data.jsonl", short_seed_records[:8])
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HUACAYA_HOME": str(huacaya_home),
        "HUACAYA_CACHE": str(cache),
        "OMP_NUM_THREADS": "2",
        "TOKENIZERS_PARALLELISM": "false",
    }
    # a large learning rate, so that two steps move the model well beyond quantization noise
    command = [sys.executable, "-m", "desktop.cli.train", "--base", "smollm2-135m-instruct"]
    command += ["--data", str(data), "--out", str(tmp_path / "run"), "--lora", "--max-steps", "2"]
    command += ["--global-batch", "4", "--max-length", "256", "--learning-rate", "1e-2"]
    command += ["--export-gguf", "--name", "My starter"]
    done = subprocess.run(
        ["nice", "-n", "5", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Installed “My starter” (Q4_1)" in done.stdout
    # the compare hint names the base as the person did (installed: nothing to import)
    assert " smollm2-135m-instruct --prompts " in done.stdout
    assert "huacaya models import" not in done.stdout

    library = ModelLibrary(huacaya_home / "data" / "models")
    entry = library.get("My starter")
    exported = library.path_of(entry)
    assert entry.quantization == "Q4_1"
    # the tensors the LoRA did not touch are the starter's own bytes; those it changed (q and v
    # of every layer) are Q8_0, fine enough to keep its updates (Q4_1 would round them away)
    starter = gguf.GGUFReader(str(starter_path))
    before_tensors = {t.name: t for t in starter.tensors}
    changed = []
    for tensor in gguf.GGUFReader(str(exported)).tensors:
        original = before_tensors[tensor.name]
        if tensor.tensor_type == original.tensor_type:
            assert np.array_equal(np.asarray(tensor.data), np.asarray(original.data)), tensor.name
        else:
            assert tensor.tensor_type == gguf.GGMLQuantizationType.Q8_0, tensor.name
            changed.append(tensor.name)
    assert sorted(changed) == sorted(
        f"blk.{i}.attn_{m}.weight" for i in range(30) for m in ("q", "v")
    )

    # the merged GGUF scores like the trained model (checkpoint + adapter) in torch, and unlike
    # the starter it came from
    (checkpoint,) = [
        p for p in (cache / "base-checkpoints").iterdir() if not p.name.startswith(".")
    ]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["arguments"]["base"] == str(checkpoint)
    assert manifest["arguments"]["base_source"] == "smollm2-135m-instruct"
    with Scorer(exported) as scorer:
        tokens = scorer.tokenize(PROMPT, add_bos=False)
        merged = scorer.logits(tokens)
    with Scorer(starter_path) as scorer:
        before = scorer.logits(tokens)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    with peft_checkpointing_warning_ignored():  # peft's own deprecation, as in training
        trained = PeftModel.from_pretrained(model, tmp_path / "run" / "model")
    with torch.no_grad():
        reference = trained(torch.tensor([tokens])).logits[0].numpy()
    top1, kl_merged = agreement(reference, merged)
    _, kl_starter = agreement(reference, before)
    print(
        f"merged vs trained: top-1 {top1:.3f}, KL {kl_merged:.4f}; "
        f"starter vs trained: KL {kl_starter:.4f}"
    )
    assert np.isfinite(merged).all()
    assert top1 >= 0.8 and kl_merged < 0.1, (top1, kl_merged)
    assert kl_starter > 3 * kl_merged, (kl_starter, kl_merged)  # the adapter is in it
