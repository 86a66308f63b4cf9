"""The recipe's loss, computed only where a response token is predicted.

``install_response_loss(model)`` gives the causal LM a ``forward`` that takes one micro-batch of
:class:`~conversion.train.batching.StepCollator` and returns the *sum* of the cross-entropy over
its trained positions (the caller divides by the step's trained tokens: the token-weighted loss
of the whole step, as the Trainer computes it for Stanford's script). It replaces the forward on
the instance, so DDP, FSDP, DeepSpeed, PEFT and accelerate's autocast wrap it as they wrap the
model's own, and their hooks run.

Only the hidden states of the ``target_index`` positions reach the vocabulary projection:

- with Liger Kernel installed (CUDA), its fused linear + cross-entropy, which never holds the
  logits of more than a chunk (it reads the number of targets back from the GPU once per call:
  one host round trip per micro-batch, usually one per step);
- otherwise a chunked loss of our own: each chunk's logits are recomputed in the backward pass
  (activation checkpointing), so memory holds one chunk of logits, not all of them.

Models whose logits are not ``lm_head(final hidden state)`` (+ Gemma's soft-capping), and heads
sharded by FSDP or ZeRO-3 (whose weight is only whole inside the head's own forward), use the
model's own forward with ``logits_to_keep``.
"""

from __future__ import annotations

import importlib.util
import types
from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from conversion.train.attention import attention_inputs

CHUNK = 4096  # positions per chunk of logits
# model types whose logits are lm_head(last hidden state), optionally soft-capped
PLAIN_HEADS = {
    "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "smollm3",
    "olmo2", "granite",
}  # fmt: skip


def liger_available() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None


def _chunk_loss(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, cap: float):
    logits = F.linear(hidden, weight).float()
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits, targets, reduction="sum")


def chunked_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, softcap: float = 0.0
) -> torch.Tensor:
    """Sum of the cross-entropy of ``hidden @ weight.T`` against ``targets``, in chunks whose
    logits are recomputed in the backward pass (our own: used where Liger is absent).

    The last chunk is not recomputed: its backward pass runs first, right after the forward, so
    keeping its logits adds nothing to the peak, and recomputing them would cost one more
    vocabulary projection (the only chunk of most CPU micro-batches: ~5% of a LoRA step)."""
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], CHUNK):
        part = slice(start, start + CHUNK)
        if torch.is_grad_enabled() and start + CHUNK < hidden.shape[0]:
            total = total + checkpoint(
                _chunk_loss, hidden[part], weight, targets[part], softcap, use_reentrant=False
            )
        else:
            total = total + _chunk_loss(hidden[part], weight, targets[part], softcap)
    return total


class ResponseLoss:
    """Chooses the projection + loss for one model (see the module's docstring)."""

    def __init__(self, model: torch.nn.Module, implementation: str, sharded: bool) -> None:
        config = model.config
        self.implementation = implementation
        self.softcap = float(getattr(config, "final_logit_softcapping", None) or 0.0)
        head = model.get_output_embeddings()
        # a head wrapped by PEFT or sharded by FSDP/ZeRO-3 is called as a module
        self.plain = (
            getattr(config, "model_type", "") in PLAIN_HEADS
            and isinstance(head, torch.nn.Linear)
            and head.bias is None
            and not sharded
        )
        self.fused = None
        if self.plain and liger_available():
            from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

            self.fused = LigerFusedLinearCrossEntropyLoss(
                reduction="sum", softcap=self.softcap or None
            )

    def __call__(self, model, batch: dict[str, Any]) -> torch.Tensor:
        dtype = torch.get_autocast_dtype(batch["input_ids"].device.type)
        if not torch.is_autocast_enabled(batch["input_ids"].device.type):
            dtype = next(model.parameters()).dtype
        attention = attention_inputs(batch, self.implementation, dtype)
        common = {
            "input_ids": batch["input_ids"],
            "position_ids": batch["position_ids"],
            "use_cache": False,
            **attention,
        }
        targets = batch["targets"]
        if not self.plain:
            index = batch["target_index"]
            rows, width = batch["input_ids"].shape
            if rows == 1:  # positions of the one row: an index, no host round trip
                keep = index
            else:  # a boolean mask (transformers reads its size back from the GPU)
                keep = torch.zeros(rows * width, dtype=torch.bool, device=index.device)
                keep[index] = True
                keep = keep.view(rows, width)
            logits = type(model).forward(model, **common, logits_to_keep=keep).logits
            logits = logits.float().reshape(-1, logits.shape[-1])
            return F.cross_entropy(logits, targets, reduction="sum")
        base = getattr(model, model.base_model_prefix)
        hidden = base(**common).last_hidden_state
        hidden = hidden.flatten(0, 1).index_select(0, batch["target_index"])
        weight = model.get_output_embeddings().weight
        if self.fused is not None:
            if torch.is_autocast_enabled(hidden.device.type):
                hidden, weight = hidden.to(dtype), weight.to(dtype)
            return self.fused(weight, hidden, targets)
        return chunked_cross_entropy(hidden, weight, targets, self.softcap)


def install_response_loss(
    model: torch.nn.Module, implementation: str, sharded: bool = False
) -> None:
    """Give ``model`` (a transformers causal LM) the micro-batch forward described above;
    ``sharded``: FSDP or DeepSpeed ZeRO-3 will shard its weights."""
    loss = ResponseLoss(model, implementation, sharded)

    def forward(self, **batch: Any) -> torch.Tensor:
        return loss(self, batch)

    model.forward = types.MethodType(forward, model)


def remove_response_loss(model: torch.nn.Module) -> None:
    model.__dict__.pop("forward", None)
