"""LoRA for laptops: PEFT adapters with alpaca-lora's defaults (r 8, alpha 16, dropout 0.05 on
q_proj and v_proj, lr 3e-4). The saved adapter (``adapter_config.json`` +
``adapter_model.safetensors``) is what ``huacaya-convert --lora`` and ``huacaya models import
--base`` merge."""

from __future__ import annotations

from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from conversion.errors import TrainingError
from conversion.train.recipe import TrainConfig


def use_existing_pad_token(tokenizer) -> None:
    """alpaca-lora pads with an existing token (``unk``) instead of adding ``[PAD]``: a new
    embedding row would not be part of the adapter, so the adapter would no longer fit its base.
    Padding never carries loss or attention, so any existing token serves."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token


def wrap(model: PreTrainedModel, config: TrainConfig) -> PeftModel:
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
    return get_peft_model(model, lora_config)
