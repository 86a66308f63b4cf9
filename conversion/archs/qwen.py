"""Qwen2/2.5 (biases on q/k/v) and Qwen3 (RMS norms on q and k). Both use NeoX-style rope, so
Q/K rows are kept as they are; the GGUF tensor map does the rest."""

from __future__ import annotations

import gguf

from conversion.archs.base import LLAMA_LAYER_TENSORS, Architecture


class Qwen2(Architecture):
    hf_names = ("Qwen2ForCausalLM",)
    examples = "Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen"
    gguf_arch = gguf.MODEL_ARCH.QWEN2

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        super().add_hyperparameters(writer, vocab_size)
        self.add_rope_scaling(writer, self.ckpt.rope_scaling)


class Qwen3(Qwen2):
    hf_names = ("Qwen3ForCausalLM",)
    examples = "Qwen3"
    gguf_arch = gguf.MODEL_ARCH.QWEN3
    layer_tensors = (*LLAMA_LAYER_TENSORS, "attn_q_norm", "attn_k_norm")

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        head_dim = (self.ckpt.head_dim,)
        return {
            **super().expected_shapes(vocab_size),
            "attn_q_norm.weight": head_dim,
            "attn_k_norm.weight": head_dim,
        }
