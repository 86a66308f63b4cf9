"""How a run lays out its batches and prepares its model for them: Stanford's padded batches
(``--no-packing``), or whole steps in token-sized micro-batches with attention confined to each
example, the response-only loss, Liger's kernels and ``torch.compile`` where they apply."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import PreTrainedModel

from conversion.train import attention as attention_module
from conversion.train.batching import StepCollator
from conversion.train.loss import PLAIN_HEADS, install_response_loss, liger_available
from conversion.train.model import decoder_layer_classes, default_token_budget
from conversion.train.packing import PaddedCollator
from conversion.train.precision import PrecisionPlan
from conversion.train.recipe import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Layout:
    """What the manifest records about the batches, and what the Trainer needs."""

    packing: bool
    attention: str = "sdpa"
    examples_per_batch: int = 4  # the Trainer's batch: a micro-batch, or a step's share
    accumulation: int = 1
    tokens_per_micro_batch: int = 0
    row_length: int = 0
    kernels: list[str] = field(default_factory=list)
    layer_classes: list[str] = field(default_factory=list)  # what FSDP wraps

    def describe(self) -> dict[str, Any]:
        return {
            "packing": self.packing,
            "attention": self.attention,
            "examples_per_batch": self.examples_per_batch,
            "gradient_accumulation_steps": self.accumulation,
            "tokens_per_micro_batch": self.tokens_per_micro_batch,
            "row_length": self.row_length,
            "kernels": self.kernels,
        }


def plan_layout(config: TrainConfig, world: int) -> Layout:
    """Decided before the model is loaded (the attention implementation is a load option)."""
    if not config.packing:
        return Layout(
            False,
            examples_per_batch=config.per_device_batch,
            accumulation=config.accumulation_steps(world),
        )
    implementation = attention_module.choose_attention(
        config.attention, deepspeed=bool(config.deepspeed)
    )
    return Layout(
        True,
        implementation,
        examples_per_batch=config.examples_per_process(world),
        row_length=config.pack_length or config.max_length,
    )


def prepare(
    model: PreTrainedModel, config: TrainConfig, layout: Layout, plan: PrecisionPlan, world: int
) -> None:
    """Fill in the token budget and make the model train on micro-batches (before LoRA wraps
    it: PEFT calls the inner model's forward)."""
    if config.fsdp:
        layout.layer_classes = decoder_layer_classes(model)
    if not layout.packing:
        return
    if not layout.tokens_per_micro_batch:
        layout.tokens_per_micro_batch = config.tokens_per_micro_batch or _default_budget(
            model, config, plan, world
        )
    # torch.compile fuses the norms and the MLP itself (and cannot trace Liger's functions)
    if torch.cuda.is_available() and not config.compile and _apply_liger(model):
        layout.kernels.append("liger rms_norm + swiglu")
    sharded = bool(config.deepspeed) or config.fsdp
    install_response_loss(model, layout.attention, sharded=sharded)
    fused = liger_available() and not sharded and model.config.model_type in PLAIN_HEADS
    loss = "liger fused linear cross-entropy" if fused else "chunked cross-entropy"
    layout.kernels.append(loss if not sharded else "the model's head on the trained positions")
    if config.compile:
        for layer in _decoder_layers(model):
            layer.compile(dynamic=True)
        layout.kernels.append("torch.compile per decoder layer")


def collator(layout: Layout, pad_token_id: int):
    if not layout.packing:
        return PaddedCollator(pad_token_id)
    return StepCollator(
        pad_token_id,
        layout.tokens_per_micro_batch,
        attention_module.layout_for(layout.attention),
        layout.row_length,
    )


def _default_budget(
    model: PreTrainedModel, config: TrainConfig, plan: PrecisionPlan, world: int
) -> int:
    parameters = sum(p.numel() for p in model.parameters())
    trainable = parameters if not config.lora else parameters // 100
    static = (plan.bytes_per_parameter or 16) * trainable
    if config.lora:
        static += 2 * parameters  # the frozen base in bf16 (or more, on CPU: generous)
    shards = world if (config.fsdp or config.deepspeed) else 1
    compute_bytes = 4 if plan.mixed == "fp32" else 2
    return default_token_budget(
        model, config.max_length, static, compute_bytes, config.gradient_checkpointing, shards
    )


def _apply_liger(model: PreTrainedModel) -> bool:
    """Liger's RMSNorm and SwiGLU kernels on the model's own modules, where Liger knows the
    architecture (the loss is ours: it needs only the trained positions)."""
    if importlib.util.find_spec("liger_kernel") is None:
        return False
    try:
        from liger_kernel.transformers.monkey_patch import (
            MODEL_TYPE_TO_APPLY_LIGER_FN,
            _apply_liger_kernel_to_instance,
        )
    except ImportError as exc:  # a Liger without this entry point: train without it
        log.warning("Liger Kernel is installed but could not be used: %s", exc)
        return False
    if model.config.model_type not in MODEL_TYPE_TO_APPLY_LIGER_FN:
        return False
    try:
        _apply_liger_kernel_to_instance(
            model=model,
            rope=False,
            rms_norm=True,
            swiglu=True,
            cross_entropy=False,
            fused_linear_cross_entropy=False,
        )
    except (TypeError, ValueError, NotImplementedError) as exc:  # a model type Liger lacks
        log.info("Liger Kernel does not cover %s: %s", model.config.model_type, exc)
        return False
    return True


def _decoder_layers(model: PreTrainedModel) -> list[torch.nn.Module]:
    names = set(getattr(model, "_no_split_modules", None) or [])
    return [m for m in model.modules() if type(m).__name__ in names]
