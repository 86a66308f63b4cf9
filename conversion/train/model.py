"""Loading the base model and tokenizer the way Stanford's recipe prepares them."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from conversion.errors import TrainingError

PAD_TOKEN = "[PAD]"


def load_tokenizer(base: str):
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


def load_model(base: str, dtype: torch.dtype, attention: str | None = None) -> PreTrainedModel:
    """The model in ``dtype`` (fp32 for a full fine-tune: Stanford's master weights)."""
    extra = {"attn_implementation": attention} if attention else {}
    try:
        return AutoModelForCausalLM.from_pretrained(base, dtype=dtype, **extra)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"Could not load the model “{base}”: {exc}") from exc


def activation_bytes_per_token(
    model: PreTrainedModel, compute_bytes: int, checkpointed: bool
) -> int:
    """A generous estimate of what training keeps per token for the backward pass: per layer the
    norm, attention and MLP activations in the compute precision plus the fp32 residual stream
    (autocast keeps it in the weights' precision); with gradient checkpointing, the layer inputs.
    """
    config = model.config
    hidden = int(getattr(config, "hidden_size", 1024))
    ffn = int(getattr(config, "intermediate_size", 4 * hidden) or 4 * hidden)
    layers = int(getattr(config, "num_hidden_layers", 12))
    if checkpointed:
        per_layer = 4 * hidden
    else:
        per_layer = compute_bytes * (8 * hidden + 4 * ffn) + 4 * 4 * hidden
    return layers * per_layer + 16 * hidden


def default_token_budget(
    model: PreTrainedModel,
    max_length: int,
    static_bytes: int,
    compute_bytes: int,
    checkpointed: bool,
    shards: int = 1,
) -> int:
    """Tokens per micro-batch that fit: the device's memory less the weights, gradients and
    optimizer state (``static_bytes``, divided over FSDP/ZeRO shards) and a margin, over the
    activations per token. On a CPU a quarter of the free RAM (the machine stays usable)."""
    import psutil

    per_token = activation_bytes_per_token(model, compute_bytes, checkpointed)
    if torch.cuda.is_available():
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
        free = 0.85 * total - static_bytes / shards - 2 * 2**30
        ceiling = 131_072
    else:
        free = 0.25 * psutil.virtual_memory().available
        ceiling = 16_384
    budget = int(free // per_token) // 128 * 128
    return max(max_length, min(budget, ceiling))


def add_pad_token(tokenizer, model: PreTrainedModel) -> bool:
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


def clean_for_saving(tokenizer) -> None:
    """Truncated calls leave truncation switched on in a fast tokenizer, and it would be saved
    in ``tokenizer.json``: the fine-tuned model's tokenizer must be the base's."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.no_truncation()
        backend.no_padding()
