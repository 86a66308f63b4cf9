"""Packing changes the layout, not the result: the loss of a packed batch is the loss of the
same examples padded (SmolLM2, fp32), and a packed training run follows the padded one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conversion.train.attention import SDPA
from conversion.train.batching import ONE_ROW, ROWS, StepCollator
from conversion.train.data import Record
from conversion.train.examples import build_example
from conversion.train.loss import install_response_loss, remove_response_loss
from conversion.train.packing import PaddedCollator, pack_rows
from conversion.train.recipe import TrainConfig
from conversion.train.run import train
from conversion.train.run_record import read_metrics
from tests.train.conftest import write_records


def _padded_loss(model, batch: dict) -> float:  # type: ignore[type-arg]
    """Stanford's way: the model's own forward and loss on a padded batch."""
    inputs = {k: batch[k] for k in ("input_ids", "labels", "attention_mask")}
    targets = batch["labels"][:, 1:]
    with torch.no_grad():
        out = model(**inputs, use_cache=False, num_items_in_batch=(targets != -100).sum())
    return float(out.loss)


def _step_loss(model, step: dict, implementation: str = SDPA) -> float:  # type: ignore[type-arg]
    """Ours: the micro-batches' summed losses over the step's trained tokens."""
    install_response_loss(model, implementation)
    try:
        with torch.no_grad():
            total = sum(float(model(**batch)) for batch in step["micro_batches"])
    finally:
        remove_response_loss(model)
    return total / step["trained_tokens"]


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
    lengths = [len(f["input_ids"]) for f in features]
    assert len(set(lengths)) > 1  # padding is really needed
    padded = _padded_loss(model, PaddedCollator(tokenizer.pad_token_id)(features))

    pad = tokenizer.pad_token_id
    # one micro-batch of rows (sdpa), two rows
    rows = StepCollator(pad, 4096, ROWS, row_length=max(lengths) + min(lengths))(features)
    assert len(rows["micro_batches"]) == 1
    assert rows["micro_batches"][0]["input_ids"].shape[0] == 2
    assert abs(_step_loss(model, rows) - padded) < 1e-4
    # a budget of one example: three micro-batches whose sums make the same mean
    split = StepCollator(pad, max(lengths), ROWS, row_length=max(lengths))(features)
    assert len(split["micro_batches"]) == 3
    assert abs(_step_loss(model, split) - padded) < 1e-4
    # everything in one row (the flash/flex layout; here sdpa with the same document mask)
    one_row = StepCollator(pad, 4096, ONE_ROW)(features)
    width = one_row["micro_batches"][0]["input_ids"].shape[1]
    assert width % 128 == 0 and width - 128 < sum(lengths) <= width  # padded to a block
    assert abs(_step_loss(model, one_row) - padded) < 1e-4
    assert one_row["trained_tokens"] == rows["trained_tokens"] == split["trained_tokens"]

    # Without the document mask the examples see each other: a different loss.
    leaking = StepCollator(pad, 4096, ONE_ROW)(features)
    leaking["micro_batches"][0]["document_ids"].zero_()
    assert abs(_step_loss(model, leaking) - padded) > 1e-3


def test_flex_block_tables_are_the_document_mask() -> None:
    """The block tables the collator computes for FlexAttention are exactly the causal mask
    inside each example (checked against PyTorch's own dense construction)."""
    flex = pytest.importorskip("torch.nn.attention.flex_attention")
    lengths = [5, 140, 1, 300, 60]  # across block boundaries, inside blocks, a block of one
    features = [{"input_ids": [1] * n, "labels": [1] * n} for n in lengths]
    batch = StepCollator(0, 4096, ONE_ROW)(features)["micro_batches"][0]
    documents = batch["document_ids"][0]
    width = documents.shape[0]
    mask = flex.BlockMask.from_kv_blocks(
        batch["kv_num_blocks"],
        batch["kv_indices"],
        batch["full_kv_num_blocks"],
        batch["full_kv_indices"],
        BLOCK_SIZE=128,
        mask_mod=lambda b, h, q, kv: (documents[q] == documents[kv]) & (q >= kv),
    )
    position = torch.arange(width)
    expected = (documents[:, None] == documents[None, :]) & (position[:, None] >= position[None])
    dense = flex.create_mask(mask.mask_mod, 1, 1, width, width, device="cpu")[0, 0]
    blocks = mask.to_dense()[0, 0].repeat_interleave(128, 0).repeat_interleave(128, 1).bool()
    assert torch.equal(dense & blocks, expected)  # nothing visible lies outside the tables
    full = torch.zeros_like(blocks)
    for q in range(width // 128):
        for k in batch["full_kv_indices"][0, 0, q, : batch["full_kv_num_blocks"][0, 0, q]]:
            full[q * 128 : q * 128 + 128, k * 128 : k * 128 + 128] = True
    assert torch.equal(expected | ~full, torch.ones_like(full))  # "full" blocks are all visible
    assert batch["cu_seq_lens"].tolist() == [0, 5, 145, 146, 446, 506, 512]  # + the padding
    assert batch["max_length"] == 300


def test_a_packed_run_follows_the_padded_run(
    tiny_model: Path, short_seed_records: list[Record], tmp_path: Path
) -> None:
    """Stanford's way (padded micro-batches of 4, gradient accumulation) and ours (the whole
    step in one micro-batch, or one example's worth of tokens per micro-batch) give the same
    loss at every step."""
    data = write_records(tmp_path / "data.jsonl", short_seed_records[:16])
    curves = {}
    for packing, budget in ((True, 0), (True, 128), (False, 0)):
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
            tokens_per_micro_batch=budget,
            save_steps=100,
        )
        config.out = str(tmp_path / f"packing-{packing}-{budget}")
        train(config)
        curves[packing, budget] = [r.loss for r in read_metrics(Path(config.out) / "metrics.csv")]
    assert len(curves[False, 0]) == 4
    assert curves[True, 0] == pytest.approx(curves[False, 0], abs=1e-5)
    assert curves[True, 128] == pytest.approx(curves[False, 0], abs=1e-5)


def test_rows_hold_at_most_the_row_length_and_little_padding() -> None:
    assert pack_rows([300, 200, 250, 100, 60], 512) == [[0, 3, 4], [2, 1]]  # 460 + 450
    assert pack_rows([500, 500, 10], 512) == [[0, 2], [1]]
    assert pack_rows([600, 10], 512) == [[0], [1]]  # too long for a row: a row of its own
    assert pack_rows([5, 6, 7], None) == [[0, 1, 2]]
