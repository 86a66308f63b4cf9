"""Stanford's precision: fp32 master weights under bf16 compute. At the recipe's learning rate an
Adam update (about lr per element) is far below half a bf16 step for weights of ordinary size,
so a model whose weights are held in bf16 loses it. These runs take two optimizer steps of a
tiny model on CPU (autocast bf16 runs there) and compare every weight's change with an fp32 run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conversion.train.data import Record
from conversion.train.recipe import TrainConfig
from conversion.train.run import train
from tests.train.conftest import write_records

LEARNING_RATE = 2e-5  # Stanford's, for LLaMA-7B


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for file in sorted(folder.glob("*.safetensors")):
        found.update(load_file(file))
    return found


@pytest.fixture(scope="module")
def runs(
    tiny_model: Path, short_seed_records: list[Record], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("precision")
    data = write_records(folder / "seed.jsonl", short_seed_records[:8])
    out = {}
    for name, options in {
        "fp32": {"precision": "fp32"},
        "bf16": {"precision": "bf16"},
        "lean": {"precision": "bf16", "lean": True},
    }.items():
        config = TrainConfig(
            base=str(tiny_model),
            data=str(data),
            out=str(folder / name),
            learning_rate=LEARNING_RATE,
            global_batch=4,
            max_length=128,
            max_steps=2,
            warmup_ratio=0.0,
            save_steps=1000,
            **options,
        )
        out[name] = train(config).model_dir
    return out


@pytest.mark.parametrize("way", ["bf16", "lean"])
def test_bf16_steps_change_the_weights_as_an_fp32_run_does(
    runs: dict[str, Path], tiny_model: Path, way: str
) -> None:
    start = _weights(tiny_model)
    reference = _weights(runs["fp32"])
    trained = _weights(runs[way])
    moved = lost = 0
    cosines = []
    for name, before in start.items():
        want = reference[name].float() - before.float()
        # --lean holds the weights in bf16 from the start: its starting point is the checkpoint
        # rounded to bf16 (a bf16 checkpoint, as most are published, loses nothing here)
        start_of_run = before.to(torch.bfloat16).float() if way == "lean" else before.float()
        got = trained[name].float() - start_of_run
        changed = want != 0
        moved += int(changed.sum())
        # kept: the change is the fp32 run's to within half of it (not rounded away)
        lost += int((changed & ((got - want).abs() > 0.5 * want.abs())).sum())
        # Adam's first steps move each element by about lr, whatever the gradient's size: the
        # bf16 compute must move the same elements the same way
        cosines.append(
            float(torch.nn.functional.cosine_similarity(want.flatten(), got.flatten(), dim=0))
        )
    assert moved > 0.5 * sum(t.numel() for t in start.values())
    assert lost / moved < 0.01, f"{lost:,} of {moved:,} updates lost"
    assert min(cosines) > 0.9, cosines
    assert all(t.dtype == torch.float32 for t in trained.values())  # saved as trained: fp32


def test_the_manifest_records_the_precision_plan(runs: dict[str, Path]) -> None:
    plans = {
        name: json.loads((model.parent / "manifest.json").read_text(encoding="utf-8"))["precision"]
        for name, model in runs.items()
    }
    assert plans["fp32"]["compute"] == "fp32" and plans["fp32"]["weights"] == "fp32"
    assert plans["bf16"]["compute"] == "bf16 autocast"
    assert plans["bf16"]["weights"] == plans["bf16"]["optimizer_state"] == "fp32"
    assert plans["bf16"]["bytes_per_parameter"] == 16
    assert plans["lean"]["weights"] == "bf16 + bf16 Kahan compensation"
    assert plans["lean"]["bytes_per_parameter"] == 10
