"""LLaMA 1/2/3, Alpaca, Vicuna, TinyLlama, SmolLM, Mistral: the Q/K row permutation and
Llama-3 rope factors."""

from __future__ import annotations

import math

import gguf
import numpy as np

from conversion.archs.base import Architecture, PlannedTensor


def permute_qk(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF stores rotary halves apart; GGUF wants them interleaved per head."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


class Llama(Architecture):
    hf_names = ("LlamaForCausalLM", "MistralForCausalLM")
    aliases = ("LLaMAForCausalLM",)  # the earliest conversions (March 2023, Alpaca's era)
    examples = "LLaMA 1/2/3, Alpaca, Vicuna, TinyLlama, SmolLM, Mistral"
    gguf_arch = gguf.MODEL_ARCH.LLAMA

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        ckpt = self.ckpt
        super().add_hyperparameters(writer, vocab_size)
        if ckpt.hparam("max_position_embeddings") is None and ckpt.hparam("max_sequence_length"):
            writer.add_context_length(int(ckpt.config["max_sequence_length"]))  # early LLaMA
        writer.add_rope_dimension_count(ckpt.head_dim)
        scaling = ckpt.rope_scaling
        if scaling is not None and scaling["rope_type"] != "llama3":  # llama3: rope_freqs
            self.add_rope_scaling(writer, scaling)

    def transform(self, gguf_name: str, data: np.ndarray) -> np.ndarray:
        if gguf_name.endswith("attn_q.weight"):
            return permute_qk(data, self.ckpt.n_head)
        if gguf_name.endswith("attn_k.weight"):
            return permute_qk(data, self.ckpt.n_head_kv)
        return data

    def extra_tensors(self) -> list[PlannedTensor]:
        factors = llama3_rope_factors(
            self.ckpt.rope_scaling, self.ckpt.head_dim, self.ckpt.rope_theta
        )
        if factors is None:
            return []
        return [PlannedTensor("rope_freqs.weight", factors.shape, lambda: factors, True)]


def llama3_rope_factors(scaling: dict | None, dim: int, theta: float) -> np.ndarray | None:
    """Per-frequency rope factors of Llama 3.1+ ("llama3" rope scaling), as Meta defines them."""
    if scaling is None or scaling["rope_type"] != "llama3":
        return None
    factor = float(scaling.get("factor", 8.0))
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old_context / low, old_context / high
    factors = []
    for i in range(0, dim, 2):
        freq = 1.0 / (theta ** (i / dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)
