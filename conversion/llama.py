"""What is specific to the LLaMA family (LLaMA 1/2/3, Mistral, SmolLM…) in GGUF:
hyperparameter keys, tensor names, the Q/K row permutation and Llama-3 rope factors.
"""

from __future__ import annotations

import math

import gguf
import numpy as np

from conversion.checkpoint import Checkpoint
from conversion.errors import CheckpointError, UnsupportedModelError

ARCH = gguf.MODEL_ARCH.LLAMA
ARCH_NAME = gguf.MODEL_ARCH_NAMES[ARCH]
SKIPPED_SUFFIXES = ("rotary_emb.inv_freq",)


def add_hyperparameters(writer: gguf.GGUFWriter, ckpt: Checkpoint, vocab_size: int) -> None:
    config = ckpt.config
    writer.add_context_length(int(ckpt.hparam("max_position_embeddings", default=2048)))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(ckpt.n_layers)
    writer.add_head_count(ckpt.n_head)
    writer.add_head_count_kv(ckpt.n_head_kv)
    writer.add_rope_freq_base(ckpt.rope_theta)
    writer.add_layer_norm_rms_eps(float(ckpt.hparam("rms_norm_eps", default=1e-6)))
    writer.add_vocab_size(vocab_size)
    writer.add_rope_dimension_count(ckpt.head_dim)
    if ckpt.head_dim != config["hidden_size"] // ckpt.n_head:
        writer.add_key_length(ckpt.head_dim)
        writer.add_value_length(ckpt.head_dim)
    scaling = ckpt.rope_scaling
    if scaling is None or scaling["rope_type"] == "llama3":
        return  # llama3 scaling is carried by the rope_freqs tensor
    if scaling["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif scaling["rope_type"] == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
        writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
    else:
        raise UnsupportedModelError(
            f"Rope scaling “{scaling['rope_type']}” is not supported for conversion.",
            "Supported: linear, yarn and llama3.",
        )


def gguf_name(hf_name: str, n_layers: int) -> str | None:
    """The GGUF tensor name, or None for a tensor to leave out."""
    if hf_name.endswith(SKIPPED_SUFFIXES):
        return None
    mapped = gguf.get_tensor_name_map(ARCH, n_layers).get_name(
        hf_name, try_suffixes=(".weight", ".bias")
    )
    if mapped is None:
        raise UnsupportedModelError(
            f"The checkpoint has a tensor Huacaya does not know: {hf_name}.",
            "This may be a LLaMA variant with extra layers; use a GGUF made by llama.cpp.",
        )
    return mapped


def expected_shape(hf_name: str, ckpt: Checkpoint, vocab_size: int) -> tuple[int, ...] | None:
    """The shape a tensor must have, from config.json (None: not checked)."""
    hidden, ffn = ckpt.config["hidden_size"], ckpt.config["intermediate_size"]
    q_rows, kv_rows = ckpt.n_head * ckpt.head_dim, ckpt.n_head_kv * ckpt.head_dim
    table = {
        "embed_tokens.weight": (vocab_size, hidden),
        "lm_head.weight": (vocab_size, hidden),
        "q_proj.weight": (q_rows, hidden),
        "k_proj.weight": (kv_rows, hidden),
        "v_proj.weight": (kv_rows, hidden),
        "o_proj.weight": (hidden, q_rows),
        "gate_proj.weight": (ffn, hidden),
        "up_proj.weight": (ffn, hidden),
        "down_proj.weight": (hidden, ffn),
        "layernorm.weight": (hidden,),
        "norm.weight": (hidden,),
    }
    for suffix, shape in table.items():
        if hf_name.endswith(suffix):
            return shape
    return None


def check_shape(hf_name: str, shape: tuple[int, ...], ckpt: Checkpoint, vocab_size: int) -> None:
    expected = expected_shape(hf_name, ckpt, vocab_size)
    if expected is not None and tuple(shape) != expected:
        raise CheckpointError(
            f"Tensor {hf_name} has shape {list(shape)}, but config.json implies {list(expected)}.",
            "The weights and config.json do not belong together; download the model again.",
        )


def permute_qk(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF stores rotary halves apart; GGUF wants them interleaved per head."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def prepare(hf_name: str, weights: np.ndarray, ckpt: Checkpoint) -> np.ndarray:
    if hf_name.endswith("self_attn.q_proj.weight"):
        return permute_qk(weights, ckpt.n_head)
    if hf_name.endswith("self_attn.k_proj.weight"):
        return permute_qk(weights, ckpt.n_head_kv)
    return weights


def llama3_rope_factors(ckpt: Checkpoint) -> np.ndarray | None:
    """Per-frequency rope factors of Llama 3.1+ ("llama3" rope scaling), as Meta defines them."""
    scaling = ckpt.rope_scaling
    if scaling is None or scaling["rope_type"] != "llama3":
        return None
    dim = ckpt.head_dim
    factor = float(scaling.get("factor", 8.0))
    low = float(scaling.get("low_freq_factor", 1.0))
    high = float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old_context / low, old_context / high
    factors = []
    for i in range(0, dim, 2):
        freq = 1.0 / (ckpt.rope_theta ** (i / dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)
