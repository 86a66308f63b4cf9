"""config.json checked before anything is built from it.

The converter sizes lists, tensor name maps and vocabularies from config.json. A hostile or
broken one (``num_hidden_layers`` of 10^12, ``vocab_size`` as a string) once made it run for a
minute and grow to gigabytes before failing. So the values are checked twice, before any
allocation: first their types and ranges (``check_config``, no real model comes near the
bounds), then against the tensors actually present in the weight files' headers
(``Architecture.check_against_weights``, which knows the tensors' names), whose bytes exist on
disk; after that, nothing the converter allocates is larger than the largest tensor.
"""

from __future__ import annotations

import math
from typing import Any

from conversion.errors import ImplausibleConfigError

# Generous upper bounds: the largest open models (Llama-3.1-405B: 126 layers, hidden 16384,
# ffn 53248; Gemma-3: vocabulary 262144) stay far below them.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 1 << 16),
    "intermediate_size": (1, 1 << 20),
    "num_hidden_layers": (1, 1024),
    "num_attention_heads": (1, 1024),
    "num_key_value_heads": (1, 1024),
    "head_dim": (1, 4096),
    "vocab_size": (1, 1 << 22),
    "max_position_embeddings": (1, 1 << 24),
    "max_sequence_length": (1, 1 << 24),
    "original_max_position_embeddings": (1, 1 << 24),
    "sliding_window": (0, 1 << 24),
    "type_vocab_size": (0, 1 << 16),
}
REQUIRED = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size")
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {
    "rms_norm_eps": (0.0, 1.0),
    "layer_norm_eps": (0.0, 1.0),
    "rope_theta": (0.0, 1e12),
    "rope_local_base_freq": (0.0, 1e12),
    "partial_rotary_factor": (0.0, 1.0),
    "attn_logit_softcapping": (0.0, 1e6),
    "final_logit_softcapping": (0.0, 1e6),
}
ROPE_NUMBERS = (
    "factor",
    "low_freq_factor",
    "high_freq_factor",
    "original_max_position_embeddings",
    "rope_theta",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_config(config: dict[str, Any], folder: str) -> None:
    """Types and ranges of the values the converter uses; relations between them."""

    def refuse(key: str, value: Any, why: str) -> ImplausibleConfigError:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        return ImplausibleConfigError(f"config.json of “{folder}” has {key} = {shown}: {why}.")

    for key in REQUIRED:
        if config.get(key) is None:
            raise ImplausibleConfigError(f"config.json of “{folder}” lacks {key}.")
    for key, (low, high) in INT_BOUNDS.items():
        value = config.get(key)
        if value is None:
            continue
        if not _is_int(value):
            raise refuse(key, value, "it should be a whole number")
        if not low <= value <= high:
            raise refuse(key, value, f"no real model has that (expected {low:,} to {high:,})")
    for key, (flow, fhigh) in FLOAT_BOUNDS.items():
        value = config.get(key)
        if value is not None and not (_is_number(value) and flow <= value <= fhigh):
            raise refuse(key, value, f"it should be a number from {flow:g} to {fhigh:g}")
    architectures = config.get("architectures")
    if architectures is not None and not (
        isinstance(architectures, list) and all(isinstance(a, str) for a in architectures)
    ):
        raise refuse("architectures", architectures, "it should be a list of class names")
    for key in ("model_type", "_name_or_path"):
        if config.get(key) is not None and not isinstance(config[key], str):
            raise refuse(key, config[key], "it should be text")
    for key in ("rope_scaling", "rope_parameters"):
        scaling = config.get(key)
        if scaling is None:
            continue
        if not isinstance(scaling, dict):
            raise refuse(key, scaling, "it should be a map of rope settings")
        for name in ROPE_NUMBERS:
            if name in scaling and not (_is_number(scaling[name]) and scaling[name] > 0):
                raise refuse(f"{key}.{name}", scaling[name], "it should be a positive number")
        kind = scaling.get("rope_type") or scaling.get("type")
        if kind in ("linear", "yarn", "llama3") and "factor" not in scaling:
            raise refuse(key, scaling, f"{kind} rope scaling needs a factor")
        if kind == "yarn" and "original_max_position_embeddings" not in scaling:
            raise refuse(key, scaling, "yarn rope scaling needs original_max_position_embeddings")
        low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
        if low >= high:
            raise refuse(f"{key}.low_freq_factor", low, f"it must be below {high}")
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    if heads % kv_heads:
        raise refuse(
            "num_key_value_heads", kv_heads, f"it must divide num_attention_heads ({heads})"
        )
    if config.get("head_dim") is None and config["hidden_size"] % heads:
        raise refuse("hidden_size", config["hidden_size"], f"it is not a multiple of {heads} heads")
