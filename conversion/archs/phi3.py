"""Phi-3 and Phi-3.5 (mini): fused ``qkv_proj`` and ``gate_up_proj`` (llama.cpp keeps them fused),
partial rotary dimensions, and LongRoPE's per-frequency factors for the 128k-context models."""

from __future__ import annotations

import math

import gguf
import numpy as np

from conversion.archs.base import Architecture, PlannedTensor
from conversion.errors import UnsupportedModelError


class Phi3(Architecture):
    hf_names = ("Phi3ForCausalLM",)
    examples = "Phi-3, Phi-3.5 mini"
    gguf_arch = gguf.MODEL_ARCH.PHI3
    layer_tensors = ("attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_up", "ffn_down")

    @property
    def rope_dims(self) -> int:
        fraction = float(self.ckpt.hparam("partial_rotary_factor", default=1.0))
        return int(fraction * int(self.config["hidden_size"])) // self.ckpt.n_head

    @property
    def original_context(self) -> int:
        scaling = self.ckpt.rope_scaling or {}
        return int(
            scaling.get("original_max_position_embeddings")
            or self.ckpt.hparam("original_max_position_embeddings", "max_position_embeddings")
        )

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        super().add_hyperparameters(writer, vocab_size)
        writer.add_rope_scaling_orig_ctx_len(self.original_context)
        writer.add_rope_dimension_count(self.rope_dims)
        writer.add_sliding_window(int(self.config.get("sliding_window") or 0))
        scaling = self.ckpt.rope_scaling
        if scaling is None:
            return
        context = int(self.ckpt.hparam("max_position_embeddings"))
        scale = context / self.original_context
        if scaling["rope_type"] in ("su", "longrope"):
            attn_factor = (
                math.sqrt(1 + math.log(scale) / math.log(self.original_context))
                if scale > 1.0
                else 1.0
            )
        else:
            raise UnsupportedModelError(
                f"Phi-3 rope scaling “{scaling['rope_type']}” is not supported.",
                "Supported: longrope.",
            )
        writer.add_rope_scaling_attn_factors(attn_factor)

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        shapes = super().expected_shapes(vocab_size)
        hidden, ffn = int(self.config["hidden_size"]), int(self.config["intermediate_size"])
        head_dim = self.ckpt.head_dim
        qkv = (self.ckpt.n_head + 2 * self.ckpt.n_head_kv) * head_dim
        return {**shapes, "attn_qkv.weight": (qkv, hidden), "ffn_up.weight": (2 * ffn, hidden)}

    def extra_tensors(self) -> list[PlannedTensor]:
        scaling = self.ckpt.rope_scaling
        if scaling is None or not scaling.get("long_factor"):
            return []
        tensors = []
        for key, name in (
            ("long_factor", "rope_factors_long"),
            ("short_factor", "rope_factors_short"),
        ):
            factors = np.asarray(scaling[key], dtype=np.float32)
            if factors.shape != (self.rope_dims // 2,):
                raise UnsupportedModelError(
                    f"The rope scaling's {key} has {len(factors)} values; Phi-3 with these "
                    f"heads needs {self.rope_dims // 2}.",
                    "config.json may be damaged.",
                )
            tensors.append(
                PlannedTensor(f"{name}.weight", factors.shape, lambda f=factors: f, True)  # type: ignore[misc]
            )
        return tensors
