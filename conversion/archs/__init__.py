"""One module per architecture family; ``for_checkpoint`` picks the one for a checkpoint."""

from __future__ import annotations

from conversion.archs.base import Architecture, PlannedTensor
from conversion.archs.bert import Bert, BertCrossEncoder
from conversion.archs.gemma import Gemma2, Gemma3
from conversion.archs.llama import Llama
from conversion.archs.phi3 import Phi3
from conversion.archs.qwen import Qwen2, Qwen3
from conversion.checkpoint import Checkpoint
from conversion.errors import UnsupportedModelError

ARCHITECTURES: tuple[type[Architecture], ...] = (
    Llama,
    Qwen2,
    Qwen3,
    Gemma2,
    Gemma3,
    Phi3,
    Bert,
    BertCrossEncoder,
)
_BY_HF_NAME = {name: arch for arch in ARCHITECTURES for name in (*arch.hf_names, *arch.aliases)}

__all__ = ["ARCHITECTURES", "Architecture", "PlannedTensor", "for_checkpoint", "supported"]


def supported() -> str:
    """The supported architectures, for messages: "LlamaForCausalLM (LLaMA 1/2/3, …), …"."""
    return ", ".join(f"{', '.join(arch.hf_names)} ({arch.examples})" for arch in ARCHITECTURES)


def architecture_class(hf_name: str, folder_name: str) -> type[Architecture]:
    arch = _BY_HF_NAME.get(hf_name)
    if arch is None:
        raise UnsupportedModelError(
            f"“{folder_name}” is a {hf_name} model, which Huacaya cannot convert.",
            f"Supported architectures: {supported()}. For others, look for a ready GGUF.",
        )
    return arch


def for_checkpoint(ckpt: Checkpoint) -> Architecture:
    arch = architecture_class(ckpt.architecture, ckpt.path.name)
    if ckpt.tokenizer not in arch.tokenizer_kinds:
        raise UnsupportedModelError(
            f"“{ckpt.path.name}” has a {ckpt.tokenizer} tokenizer, which Huacaya does not "
            f"convert for {ckpt.architecture}.",
            "Copy the model's original tokenizer files into the folder.",
        )
    return arch(ckpt)
