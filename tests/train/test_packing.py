"""Packing changes the layout, not the result: the loss of a packed batch is the loss of the
same examples padded (SmolLM2, fp32), and a packed training run follows the padded one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conversion.train.data import Record
from conversion.train.examples import build_example
from conversion.train.packing import REAL_TOKENS, PackedCollator, PaddedCollator, pack_rows
from conversion.train.recipe import TrainConfig
from conversion.train.run import train
from conversion.train.run_record import read_metrics
from tests.train.conftest import write_records


def _batch_loss(model, batch: dict) -> float:  # type: ignore[type-arg]
    batch = {k: v for k, v in batch.items() if k != REAL_TOKENS}
    targets = batch.get("shift_labels", batch["labels"][:, 1:])
    with torch.no_grad():
        # use_cache=False as the Trainer sets it: with a cache transformers does not look for
        # packed sequences in the position ids.
        out = model(**batch, use_cache=False, num_items_in_batch=(targets != -100).sum())
    return float(out.loss)


@pytest.fixture(scope="module")
def smollm_fp32(smollm_checkpoint: Path):  # type: ignore[no-untyped-def]
    model = AutoModelForCausalLM.from_pretrained(smollm_checkpoint, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(smollm_checkpoint)


def test_packed_loss_equals_unpacked_loss(smollm_fp32, short_seed_records: list[Record]) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = smollm_fp32
    with_input = [r for r in short_seed_records if r.input][:2]
    without_input = [r for r in short_seed_records if not r.input][:1]
    records = [with_input[0], without_input[0], with_input[1]]
    features = [build_example(r, tokenizer, 128).__dict__ for r in records]
    assert len({len(f["input_ids"]) for f in features}) > 1  # padding is really needed

    padded = _batch_loss(model, PaddedCollator(tokenizer.pad_token_id)(features))
    one_row = PackedCollator(tokenizer.pad_token_id)(features)
    assert one_row["input_ids"].shape[0] == 1  # one sequence, no padding (flash-attention)
    packed = _batch_loss(model, one_row)
    assert abs(packed - padded) < 1e-4, (packed, padded)
    longest = max(len(f["input_ids"]) for f in features)
    shortest = min(len(f["input_ids"]) for f in features)
    rows = PackedCollator(tokenizer.pad_token_id, row_length=longest + shortest)(features)
    assert rows["input_ids"].shape[0] == 2  # rows for sdpa/eager, padded at the end
    assert rows[REAL_TOKENS] < rows["input_ids"].numel()
    assert abs(_batch_loss(model, rows) - padded) < 1e-4

    # Without restarting position ids the examples see each other: a different loss.
    # (every logit computed: the path for models whose forward has no logits_to_keep)
    leaking = PackedCollator(select_logits=False)(features)
    leaking["position_ids"] = torch.arange(leaking["input_ids"].shape[1])[None]
    assert abs(_batch_loss(model, leaking) - padded) > 1e-3


def test_a_packed_run_follows_the_padded_run(
    tiny_model: Path, short_seed_records: list[Record], tmp_path: Path
) -> None:
    data = write_records(tmp_path / "data.jsonl", short_seed_records[:16])
    curves = {}
    for packing in (True, False):
        config = TrainConfig(
            base=str(tiny_model),
            data=str(data),
            out=str(tmp_path / f"packing-{packing}"),
            learning_rate=1e-3,
            global_batch=8,
            per_device_batch=4,
            max_length=128,
            max_steps=4,
            packing=packing,
            save_steps=100,
        )
        train(config)
        curves[packing] = [row.loss for row in read_metrics(Path(config.out) / "metrics.csv")]
    assert len(curves[True]) == 4
    assert curves[True] == pytest.approx(curves[False], abs=1e-4)


def test_rows_hold_at_most_the_row_length_and_little_padding() -> None:
    assert pack_rows([300, 200, 250, 100, 60], 512) == [[0, 3, 4], [2, 1]]  # 460 + 450
    assert pack_rows([500, 500, 10], 512) == [[0, 2], [1]]
    assert pack_rows([600, 10], 512) == [[0], [1]]  # too long for a row: a row of its own
    assert pack_rows([5, 6, 7], None) == [[0, 1, 2]]
