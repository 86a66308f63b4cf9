"""Loading the base model and tokenizer the way Stanford's recipe prepares them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from conversion.errors import TrainingError

PAD_TOKEN = "[PAD]"


@dataclass
class Precision:
    name: str  # bf16, fp16 or fp32
    tf32: bool

    @property
    def dtype(self) -> torch.dtype:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name, torch.float32)


def choose_precision(requested: str) -> Precision:
    """bf16 + tf32 where the hardware has them (Stanford's setting), fp32 elsewhere (CPU, MPS)."""
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    tf32 = cuda and torch.cuda.get_device_capability()[0] >= 8
    if requested == "auto":
        return Precision("bf16" if bf16 else "fp32", tf32)
    if requested == "bf16" and not bf16:
        raise TrainingError(
            "bf16 training needs a GPU that supports it.", "Use --precision auto or fp32."
        )
    if requested == "fp16" and not cuda:
        raise TrainingError("fp16 training needs a CUDA GPU.", "Use --precision auto or fp32.")
    return Precision(requested, tf32)


def load_tokenizer(base: str):  # type: ignore[no-untyped-def]
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"Could not load the tokenizer of “{base}”: {exc}",
            "Give a Hugging Face checkpoint folder (config.json, weights, tokenizer files) or a "
            "Hub model id.",
        ) from exc
    tokenizer.padding_side = "right"
    if tokenizer.eos_token is None:
        raise TrainingError(
            f"The tokenizer of “{base}” has no EOS token, so the model could not learn to stop.",
            "Use a base model whose tokenizer defines eos_token.",
        )
    return tokenizer


def load_model(base: str, dtype: torch.dtype) -> PreTrainedModel:
    try:
        return AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"Could not load the model “{base}”: {exc}") from exc


def add_pad_token(tokenizer, model: PreTrainedModel) -> bool:  # type: ignore[no-untyped-def]
    """Stanford's ``smart_tokenizer_and_embedding_resize``: add ``[PAD]`` when the tokenizer has
    no pad token, and set the new input and output embedding rows to the mean of the old ones.
    Returns whether a token was added."""
    if tokenizer.pad_token is not None:
        return False
    added = tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    if added:
        with torch.no_grad():
            for embedding in (model.get_input_embeddings(), model.get_output_embeddings()):
                if embedding is None:
                    continue
                weights = embedding.weight
                weights[-added:] = weights[:-added].mean(dim=0, keepdim=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    return bool(added)


def decoder_layer_classes(model: PreTrainedModel) -> list[str]:
    """The model's own decoder-layer class names (what FSDP wraps), from ``_no_split_modules``
    (the blocks transformers itself never splits across devices), checked against the model."""
    names = list(getattr(model, "_no_split_modules", None) or [])
    present = {type(module).__name__ for module in model.modules()}
    found = [name for name in names if name in present]
    if not found:
        raise TrainingError(
            f"Could not find the decoder layers of {type(model).__name__} to shard with FSDP.",
            "Use DDP or DeepSpeed (--deepspeed) for this model.",
        )
    return found


def accepts_logits_to_keep(model: PreTrainedModel) -> bool:
    """Whether the forward can skip the vocabulary projection where nothing is trained."""
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def clean_for_saving(tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Truncated calls leave truncation switched on in a fast tokenizer, and it would be saved
    in ``tokenizer.json``: the fine-tuned model's tokenizer must be the base's."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.no_truncation()
        backend.no_padding()
