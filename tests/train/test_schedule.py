"""The learning-rate schedule as a person meets it in a short run: ``huacaya-train --max-steps 2``
trains at both steps (transformers' warm-up gives step 1 a learning rate of 0), says nothing
about deprecated transformers names, and a full-length run keeps Stanford's schedule."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import torch
from transformers import get_scheduler

from conversion.train.data import Record
from conversion.train.trainer import warm_up_from_the_first_step
from tests.train.conftest import huacaya_train, write_records

PEAK = 3e-4


def test_a_two_step_run_trains_at_both_steps_and_shows_no_warnings(
    tiny_model: Path, short_seed_records: list[Record], tmp_path: Path
) -> None:
    data = write_records(tmp_path / "seed.jsonl", short_seed_records[:8])
    out = tmp_path / "run"
    process = huacaya_train(
        *("--base", str(tiny_model), "--data", str(data), "--out", str(out)),
        *("--max-steps", "2", "--global-batch", "4", "--per-device-batch", "2"),
        *("--max-length", "128", "--lora", "--gradient-checkpointing"),
    )
    said, _ = process.communicate(timeout=600)
    assert process.returncode == 0, said
    assert "Warning" not in said, said  # FutureWarning: transformers' renamed methods
    with (out / "metrics.csv").open() as handle:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(handle)]
    # 3% of two steps rounds up to one warm-up step; it trains, at half the peak
    assert rates == [PEAK / 2, PEAK]


def test_the_warm_up_starts_above_zero_and_the_decay_is_stanfords() -> None:
    """Stanford's run: 52,002 examples, batch 128, 3 epochs → 1,219 steps, 3% warm-up = 37."""
    total = math.ceil(52_002 / 128) * 3
    warmup = math.ceil(total * 0.03)

    def rates(make) -> list[float]:  # type: ignore[no-untyped-def]
        parameter = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([parameter], lr=2e-5)
        schedule = make(optimizer)
        seen = []
        for _ in range(total):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        return seen

    ours = rates(lambda opt: warm_up_from_the_first_step(opt, "cosine", warmup, total))
    theirs = rates(lambda opt: get_scheduler("cosine", opt, warmup, total))
    assert theirs[0] == 0.0 and ours[0] == 2e-5 / (warmup + 1)
    assert all(0 < a < b for a, b in itertools.pairwise(ours[: warmup + 1]))
    assert ours[warmup] == 2e-5
    assert ours[warmup:] == theirs[warmup:]  # the cosine decay is untouched
