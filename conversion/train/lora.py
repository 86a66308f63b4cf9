"""LoRA for laptops: PEFT adapters with alpaca-lora's defaults (r 8, alpha 16 on q_proj and v_proj,
lr 3e-4) but no dropout (``recipe.LORA_DROPOUT`` says why; ``--lora-dropout 0.05`` is theirs).
The saved adapter (``adapter_config.json`` + ``adapter_model.safetensors``) is what
``huacaya-convert --lora`` and ``huacaya models import --base`` merge."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.tuners_utils import BaseTunerLayer
from transformers import PreTrainedModel

from conversion.errors import TrainingError
from conversion.train.recipe import TrainConfig


def use_existing_pad_token(tokenizer) -> None:
    """alpaca-lora pads with an existing token (``unk``) instead of adding ``[PAD]``: a new
    embedding row would not be part of the adapter, so the adapter would no longer fit its base.
    Padding never carries loss or attention, so any existing token serves."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token


def wrap(model: PreTrainedModel, config: TrainConfig, *, autocast: bool = False) -> PeftModel:
    """The model with LoRA adapters on ``config.lora_targets``. ``autocast``: the run computes
    under autocast (bf16/fp16), so the adapters take their input as it comes."""
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [target for target in config.lora_targets if target not in present]
    if missing:
        raise TrainingError(
            f"The model has no modules named {', '.join(missing)} to put LoRA on.",
            "Choose --lora-targets among its linear layers (e.g. q_proj,k_proj,v_proj,o_proj).",
        )
    lora_config = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        bias="none",
        task_type="CAUSAL_LM",
    )
    with peft_checkpointing_warning_ignored():
        wrapped = get_peft_model(model, lora_config)
    if autocast:
        # PEFT casts each adapter's input to the adapter's dtype (fp32) before its dropout, and
        # autocast casts it back to bf16 for lora_A's product: two copies of every q/v input and a
        # dropout in fp32, per layer and pass. Under autocast the product runs in bf16 either way,
        # so the input stays as it comes (PEFT's own switch for this, `cast_input_dtype_enabled`).
        for module in wrapped.modules():
            if isinstance(module, BaseTunerLayer):
                module.cast_input_dtype_enabled = False
    return wrapped


@contextmanager
def peft_checkpointing_warning_ignored() -> Iterator[None]:
    """Wrapping a model in peft (``get_peft_model``, ``PeftModel.from_pretrained``) without one
    warning: peft (0.21, the newest) asks the model `is_gradient_checkpointing`, which
    transformers 5 renamed `is_activation_checkpointing` and warns about: a FutureWarning about
    peft's code, addressed to peft's authors, not to the person training. This one only."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield
