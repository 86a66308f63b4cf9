"""What every architecture module provides, and the parts most of them share.

An ``Architecture`` knows one family's GGUF architecture name, its hyperparameter keys, how
Hugging Face tensor names map to GGUF ones (through ``gguf``'s tensor name maps), which tensors
must be present, what their shapes must be, and how a tensor is transformed on the way (LLaMA's
Q/K permutation, Gemma's norm offset). ``convert.py`` asks it for a plan and stays neutral.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import gguf
import numpy as np

from conversion.checkpoint import Checkpoint
from conversion.errors import CheckpointError, ImplausibleConfigError, UnsupportedModelError

Loader = Callable[[str], np.ndarray]  # HF tensor name → float32 data


@dataclass
class PlannedTensor:
    name: str  # GGUF name
    shape: tuple[int, ...]
    load: Callable[[], np.ndarray]  # float32 data, transformed
    force_f32: bool = False


_LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks)\.(\d+)\.")

# GGUF tensors llama.cpp always reads as F32 (as its own converter writes them)
F32_TENSORS = ("position_embd.weight", "token_types.weight")

LLAMA_LAYER_TENSORS = (
    "attn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_norm",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
)


class Architecture:
    """A decoder of the LLaMA shape; subclasses override what differs."""

    hf_names: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings of the same architecture
    examples: ClassVar[str] = ""  # for the "supported" list in error messages
    gguf_arch: ClassVar[gguf.MODEL_ARCH]
    tokenizer_kinds: ClassVar[tuple[str, ...]] = ("sentencepiece", "bpe")
    skipped_suffixes: ClassVar[tuple[str, ...]] = ("rotary_emb.inv_freq",)
    global_tensors: ClassVar[tuple[str, ...]] = ("token_embd", "output_norm")
    layer_tensors: ClassVar[tuple[str, ...]] = LLAMA_LAYER_TENSORS
    chat: ClassVar[bool] = True  # False for encoders: no chat template
    add_space_prefix: ClassVar[bool | None] = None  # None: as tokenizer_config.json says

    def __init__(self, ckpt: Checkpoint) -> None:
        self.ckpt = ckpt
        self.config = ckpt.config
        self.tensor_map = gguf.get_tensor_name_map(self.gguf_arch, ckpt.n_layers)

    @property
    def name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.gguf_arch]

    # -- metadata --------------------------------------------------------------------------

    def add_hyperparameters(self, writer: gguf.GGUFWriter, vocab_size: int) -> None:
        ckpt = self.ckpt
        writer.add_context_length(int(ckpt.hparam("max_position_embeddings", default=2048)))
        writer.add_embedding_length(int(self.config["hidden_size"]))
        writer.add_feed_forward_length(int(self.config["intermediate_size"]))
        writer.add_block_count(ckpt.n_layers)
        writer.add_head_count(ckpt.n_head)
        writer.add_head_count_kv(ckpt.n_head_kv)
        writer.add_rope_freq_base(self.rope_base())
        writer.add_layer_norm_rms_eps(float(ckpt.hparam("rms_norm_eps", default=1e-6)))
        writer.add_vocab_size(vocab_size)
        if ckpt.hparam("head_dim") is not None:
            writer.add_key_length(ckpt.head_dim)
            writer.add_value_length(ckpt.head_dim)

    def rope_base(self) -> float:
        return self.ckpt.rope_theta

    def add_rope_scaling(self, writer: gguf.GGUFWriter, scaling: dict | None) -> None:
        """Linear and YaRN rope scaling, as llama.cpp's converter writes them."""
        if scaling is None:
            return
        kind = scaling["rope_type"]
        if kind == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(float(scaling["factor"]))
        elif kind == "yarn":
            writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            writer.add_rope_scaling_factor(float(scaling["factor"]))
            writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
        else:
            raise UnsupportedModelError(
                f"Rope scaling “{kind}” is not supported for {self.ckpt.architecture}.",
                "Supported: linear and yarn.",
            )

    def add_tokenizer_metadata(self, writer: gguf.GGUFWriter) -> None:
        """Architecture-specific tokenizer keys (most have none)."""

    # -- tensors ---------------------------------------------------------------------------

    def hf_name(self, name: str) -> str | None:
        """The checkpoint's name normalised for the tensor map; None to leave it out."""
        return None if name.endswith(self.skipped_suffixes) else name

    def gguf_name(self, hf_name: str) -> str:
        mapped = self.tensor_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise UnsupportedModelError(
                f"The checkpoint has a tensor Huacaya does not know for {self.ckpt.architecture}: "
                f"{hf_name}.",
                "This may be a variant with extra layers; use a GGUF made by llama.cpp.",
            )
        return mapped

    def expected_shapes(self, vocab_size: int) -> dict[str, tuple[int, ...]]:
        """GGUF name suffix → the shape config.json implies (not every tensor is listed)."""
        ckpt = self.ckpt
        hidden, ffn = int(self.config["hidden_size"]), int(self.config["intermediate_size"])
        q_rows, kv_rows = ckpt.n_head * ckpt.head_dim, ckpt.n_head_kv * ckpt.head_dim
        return {
            "token_embd.weight": (vocab_size, hidden),
            "output.weight": (vocab_size, hidden),
            "attn_q.weight": (q_rows, hidden),
            "attn_k.weight": (kv_rows, hidden),
            "attn_v.weight": (kv_rows, hidden),
            "attn_output.weight": (hidden, q_rows),
            "ffn_gate.weight": (ffn, hidden),
            "ffn_up.weight": (ffn, hidden),
            "ffn_down.weight": (hidden, ffn),
            "attn_norm.weight": (hidden,),
            "ffn_norm.weight": (hidden,),
            "output_norm.weight": (hidden,),
        }

    def check_against_weights(
        self, names: list[str], shape_of: Callable[[str], tuple[int, ...]]
    ) -> int:
        """Compare config.json with the tensors present (the second of the checks
        ``conversion.config_checks`` describes); return the vocabulary size the token
        embeddings hold (what the vocabulary is built to, never more)."""
        ckpt, folder = self.ckpt, self.ckpt.path.name
        indices = [int(m[1]) for n in names if (m := _LAYER_INDEX.search(n))]
        present = max(indices) + 1 if indices else 0
        if present != ckpt.n_layers:
            raise ImplausibleConfigError(
                f"config.json of “{folder}” says the model has {ckpt.n_layers:,} layers "
                f"(num_hidden_layers), but its weights hold {present:,}."
            )
        hidden = int(ckpt.config["hidden_size"])
        for name in names:
            hf_name = self.hf_name(name)
            mapped = hf_name and self.tensor_map.get_name(
                hf_name, try_suffixes=(".weight", ".bias")
            )
            if mapped != "token_embd.weight":
                continue
            shape = tuple(shape_of(name))
            if len(shape) != 2 or shape[1] != hidden:
                raise ImplausibleConfigError(
                    f"The token embeddings {name} of “{folder}” have shape {list(shape)}, but "
                    f"config.json says hidden_size {hidden:,}."
                )
            declared = ckpt.config.get("vocab_size")
            if declared is not None and declared != shape[0]:
                raise ImplausibleConfigError(
                    f"config.json of “{folder}” says vocab_size {declared:,}, but its token "
                    f"embeddings have {shape[0]:,} rows."
                )
            return shape[0]
        raise ImplausibleConfigError(
            f"The weights of “{folder}” hold no token embeddings.",
            "A shard may be missing or the download incomplete.",
        )

    def transform(self, gguf_name: str, data: np.ndarray) -> np.ndarray:
        """The tensor as llama.cpp wants it (identity for most)."""
        return data

    def extra_tensors(self) -> list[PlannedTensor]:
        """Tensors computed from config.json (rope factors)."""
        return []

    def plan(
        self,
        names: list[str],
        shape_of: Callable[[str], tuple[int, ...]],
        load: Loader,
        vocab_size: int,
    ) -> list[PlannedTensor]:
        """Every GGUF tensor: its name, shape and how to make it, checked against config.json."""
        expected = self.expected_shapes(vocab_size)
        plan: list[PlannedTensor] = []
        for name in names:
            hf_name = self.hf_name(name)
            if hf_name is None:
                continue
            target = self.gguf_name(hf_name)
            shape = tuple(shape_of(name))
            suffix = target.split(".", 2)[-1] if target.startswith("blk.") else target
            if suffix in expected and shape != expected[suffix]:
                raise CheckpointError(
                    f"Tensor {name} has shape {list(shape)}, but config.json implies "
                    f"{list(expected[suffix])}.",
                    "The weights and config.json do not belong together; download the model again.",
                )
            plan.append(
                PlannedTensor(
                    target,
                    shape,
                    # mypy cannot infer a lambda whose defaults capture the loop's values
                    lambda name=name, target=target: self.transform(target, load(name)),  # type: ignore[misc]
                    force_f32=target.endswith(F32_TENSORS) or target.endswith("_norm.weight"),
                )
            )
        self._check_complete({t.name for t in plan})
        return plan + self.extra_tensors()

    def _check_complete(self, present: set[str]) -> None:
        required = {f"{n}.weight" for n in self.global_tensors} | {
            f"blk.{i}.{part}.weight"
            for i in range(self.ckpt.n_layers)
            for part in self.layer_tensors
        }
        missing = sorted(required - present)
        if missing:
            raise CheckpointError(
                f"The checkpoint lacks {len(missing)} tensors the model needs (first: "
                f"{missing[0]}).",
                "A shard may be missing or the download incomplete.",
            )
