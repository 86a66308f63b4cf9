"""Gemma 2 and Gemma 3 (text): RMS norms that store ``weight − 1``, pre- and post-norms around
attention and the MLP, tied embeddings, soft-capping (Gemma 2) and sliding-window layers.

The embedding scale (√hidden) and the sliding-window pattern are built into llama.cpp's graphs
for these architectures; the converter writes what llama.cpp's own converter writes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gguf
import numpy as np

from conversion.archs.base import LLAMA_LAYER_TENSORS, Architecture

GEMMA_LAYER_TENSORS = (*LLAMA_LAYER_TENSORS, "post_attention_norm", "post_ffw_norm")


class Gemma2(Architecture):
    hf_names = ("Gemma2ForCausalLM",)
    examples = "Gemma 2"
    gguf_arch = gguf.MODEL_ARCH.GEMMA2
    tokenizer_kinds = ("sentencepiece",)
    layer_tensors: ClassVar[tuple[str, ...]] = GEMMA_LAYER_TENSORS
    add_space_prefix = False

    def hf_name(self, name: str) -> str | None:
        if name == "lm_head.weight":  # tied to the embeddings; llama.cpp never reads it
            return None
        return super().hf_name(name)

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        super().add_hyperparameters(writer, vocab_size)
        config = self.config
        if config.get("attn_logit_softcapping") is not None:
            writer.add_attn_logit_softcapping(float(config["attn_logit_softcapping"]))
        if config.get("final_logit_softcapping") is not None:
            writer.add_final_logit_softcapping(float(config["final_logit_softcapping"]))
        if config.get("sliding_window") is not None:
            writer.add_sliding_window(int(config["sliding_window"]))

    def transform(self, gguf_name: str, data: np.ndarray) -> np.ndarray:
        # Gemma's RMSNorm multiplies by (1 + weight); llama.cpp's by weight.
        return data + np.float32(1.0) if gguf_name.endswith("norm.weight") else data


class Gemma3(Gemma2):
    hf_names = ("Gemma3ForCausalLM",)
    examples = "Gemma 3 (text)"
    gguf_arch = gguf.MODEL_ARCH.GEMMA3
    layer_tensors = (*GEMMA_LAYER_TENSORS, "attn_q_norm", "attn_k_norm")

    def _rope(self, kind: str) -> dict[str, Any]:
        """Rope settings of the global ("full_attention") or local ("sliding_attention") layers,
        from transformers 5's ``rope_parameters`` or the older flat keys."""
        params = self.config.get("rope_parameters") or {}
        if kind in params:
            return params[kind]
        if kind == "sliding_attention":
            return {"rope_theta": self.config.get("rope_local_base_freq", 10000.0)}
        scaling = self.config.get("rope_scaling") or {}
        return {**scaling, "rope_theta": self.config.get("rope_theta", 1_000_000.0)}

    def rope_base(self) -> float:
        return float(self._rope("full_attention").get("rope_theta", 1_000_000.0))

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        Architecture.add_hyperparameters(self, writer, vocab_size)
        config = self.config
        full, local = self._rope("full_attention"), self._rope("sliding_attention")
        writer.add_rope_freq_base_swa(float(local.get("rope_theta", 10000.0)))
        kind = full.get("rope_type") or full.get("type")
        if kind not in (None, "default"):
            self.add_rope_scaling(writer, {**full, "rope_type": kind})
        if config.get("final_logit_softcapping"):
            writer.add_final_logit_softcapping(float(config["final_logit_softcapping"]))
        if config.get("sliding_window_pattern") != 1 and config.get("sliding_window"):
            writer.add_sliding_window(int(config["sliding_window"]))

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        head_dim = (self.ckpt.head_dim,)
        return {
            **super().expected_shapes(vocab_size),
            "attn_q_norm.weight": head_dim,
            "attn_k_norm.weight": head_dim,
        }
