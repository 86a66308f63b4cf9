"""Tiny random checkpoints of Qwen2, Qwen3, Gemma 2, Gemma 3 and Phi-3 for the conversion tests
(the families themselves: ``benchmarks/architectures.py``)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from benchmarks.architectures import ARCHITECTURES, family_config

TEXT = (
    "Alpacas are domesticated camelids. Paris is the capital of France; Rome is the capital of "
    "Italy. Numbers like 12, 345 and 6789 appear in text too, as do symbols: %, $ and #. The "
    "quick brown fox jumps over the lazy dog, and the sea is wide and deep."
)


SMALL = dict(
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    initializer_range=0.2,  # peaked distributions: no near-ties in the top-1 comparison
)
SEEDS = {"phi3": 2}


def randomise_small_params(model: torch.nn.Module) -> None:
    """Norm weights and biases start at 0 or 1: make them random so a converter that drops a
    bias or an offset shows in the logits."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1:
                parameter.copy_(
                    torch.randn_like(parameter) * 0.3 + (0.0 if "bias" in name else 1.0)
                )


def build_checkpoint(kind: str, folder: Path) -> Path:
    _model_type, make_tokenizer, extra = ARCHITECTURES[kind]
    vocab_size = make_tokenizer(folder)
    config = family_config(kind, vocab_size, **{**SMALL, **extra})
    # Random tiny models have near-ties at the top that llama.cpp's f16 KV cache flips either
    # way; these seeds give references whose top-1 leads by more than that noise everywhere.
    torch.manual_seed(SEEDS.get(kind, 7))
    model = AutoModelForCausalLM.from_config(config).to(torch.float32)
    if kind == "qwen2":
        for layer in model.model.layers:
            assert layer.self_attn.q_proj.bias is not None  # Qwen2's q/k/v biases
    randomise_small_params(model)
    model.save_pretrained(folder)
    return folder
