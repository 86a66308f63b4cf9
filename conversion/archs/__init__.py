"""One module per architecture family; ``for_checkpoint`` picks the one for a checkpoint, and
``inspect_checkpoint`` says whether a folder is a checkpoint Huacaya converts."""

from __future__ import annotations

from pathlib import Path

from conversion.archs.base import Architecture, PlannedTensor
from conversion.archs.bert import Bert, BertCrossEncoder
from conversion.archs.gemma import Gemma2, Gemma3
from conversion.archs.llama import Llama
from conversion.archs.phi3 import Phi3
from conversion.archs.qwen import Qwen2, Qwen3
from conversion.checkpoint import Checkpoint, is_lora_adapter
from conversion.config_checks import check_config
from conversion.errors import CheckpointError, UnsupportedModelError
from conversion.input_files import check_folder
from conversion.weight_files import weight_paths

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

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "PlannedTensor",
    "for_checkpoint",
    "inspect_checkpoint",
    "supported",
]


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


def inspect_checkpoint(path: str | Path) -> Checkpoint:
    """Check that ``path`` is a checkpoint Huacaya converts and describe it: a supported
    architecture, config.json's values in range, a tokenizer that architecture uses, weights."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"“{path}” does not exist.", "Check the folder name.")
    if not path.is_dir():
        raise CheckpointError(
            f"“{path}” is a file; a Hugging Face checkpoint is a folder with config.json.",
            "A .gguf file needs no conversion: open it directly.",
        )
    check_folder(path)  # a pipe or device named like a checkpoint file is refused at once
    if is_lora_adapter(path) and not (path / "config.json").is_file():
        raise CheckpointError(
            f"“{path.name}” is a LoRA adapter, not a full model.",
            "Convert its base model and pass the adapter with --lora.",
        )
    ckpt = Checkpoint.read(path)
    architecture_class(ckpt.architecture, path.name)  # an unsupported one is refused first
    check_config(ckpt.config, path.name)  # types and ranges, before anything is sized from them
    for_checkpoint(ckpt)  # a tokenizer this architecture does not use is refused
    weight_paths(path)  # raises when there are no weights
    return ckpt
