"""MFU from counted model FLOPs: the count matches a hand count of a LLaMA-shaped model, and the
progress line shows MFU and peak memory when known."""

from __future__ import annotations

from transformers import LlamaConfig, LlamaForCausalLM

from conversion.train.callbacks import TrainStatus
from conversion.train.packing import TokenCounter
from conversion.train.speed import ModelFlops


def test_model_flops_count_the_linear_layers_head_and_attention() -> None:
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    flops = ModelFlops.of(LlamaForCausalLM(config))
    q_o = 2 * 64 * 64
    k_v = 2 * 64 * 32  # two KV heads of 16
    mlp = 3 * 64 * 160
    assert flops.linear_parameters == 3 * (q_o + k_v + mlp)
    assert flops.head == 64 * 1000 and flops.attention == 3 * 64
    # two examples of 10 and 20 tokens, 12 trained positions
    expected = 6 * (flops.linear_parameters * 30 + flops.head * 12 + flops.attention * 500)
    counter = TokenCounter(flops=flops)
    step = {"micro_batches": [], "num_tokens": 30, "positions": 32}
    counter.count({**step, "trained_tokens": 12, "attention_pairs": 10**2 + 20**2})
    assert counter.model_flops == expected and counter.tokens == 30


def test_the_progress_line_shows_mfu_and_peak_memory_when_known() -> None:
    status = TrainStatus(3, 10, 1.5, 2e-5, 51_000, 30, 0.1, mfu=0.32, peak_memory_gib=37.7)
    assert "MFU 32%" in status.message() and "37.7 GiB" in status.message()
    cpu = TrainStatus(3, 10, 1.5, 2e-5, 510, 30, 0.1, mfu=None, peak_memory_gib=1.2)
    assert "MFU" not in cpu.message() and "1.2 GiB" in cpu.message()
