"""Attention that never crosses examples in a packed micro-batch, by the fastest way installed:

1. flash-attention's variable-length kernels (the ``flash_attn`` package, CUDA): one row, with
   the cumulative lengths computed by the collator;
2. PyTorch's FlexAttention (CUDA): one row, with a document mask whose block tables the
   collator computed (only the blocks on or below the diagonal of each example are visited);
3. sdpa (or eager) on rows of bounded length, with a block-diagonal causal mask made on the
   device from the document ids.

Every mask is built without reading a value back from the GPU: a host round trip per
micro-batch would stall the queue of kernels.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch

from conversion.errors import TrainingError
from conversion.train.batching import BLOCK, ONE_ROW, ROWS

FLASH = "flash_attention_2"
FLEX = "flex_attention"
SDPA = "sdpa"
EAGER = "eager"
CHOICES = ("auto", "flash", "flex", "sdpa")


def _has_flex() -> bool:
    try:
        from torch.nn.attention.flex_attention import BlockMask  # noqa: F401
    except ImportError:
        return False
    return True


def choose_attention(requested: str, *, deepspeed: bool = False) -> str:
    """The attention implementation for ``--attention`` (auto: the first of flash, flex, sdpa
    that this machine has)."""
    cuda = torch.cuda.is_available()
    flash = cuda and importlib.util.find_spec("flash_attn") is not None
    flex = cuda and _has_flex()
    if requested == "flash" and not flash:
        raise TrainingError(
            "--attention flash needs the flash-attn package and a CUDA GPU.",
            "Install flash-attn, or use --attention auto.",
        )
    if requested == "flex" and not flex:
        raise TrainingError(
            "--attention flex needs a CUDA GPU and PyTorch ≥ 2.5.", "Use --attention auto."
        )
    if requested == "flash" or (requested == "auto" and flash):
        return FLASH
    if requested == "flex" or (requested == "auto" and flex and not deepspeed):
        return FLEX
    return SDPA


def layout_for(implementation: str) -> str:
    return ONE_ROW if implementation in (FLASH, FLEX) else ROWS


def attention_inputs(batch: dict[str, Any], implementation: str, dtype: torch.dtype) -> dict:
    """The attention keyword arguments of one micro-batch (already on the device)."""
    documents = batch["document_ids"]
    if implementation == FLASH:
        lengths = batch["cu_seq_lens"]
        longest = int(batch["max_length"])  # a Python int from the collator: no sync
        return {
            "cu_seq_lens_q": lengths,
            "cu_seq_lens_k": lengths,
            "max_length_q": longest,
            "max_length_k": longest,
        }
    if implementation == FLEX:
        from torch.nn.attention.flex_attention import BlockMask

        document = documents[0]

        def same_document_causal(b, h, q, kv):
            return (document[q] == document[kv]) & (q >= kv)

        length = document.shape[0]
        mask = BlockMask.from_kv_blocks(
            batch["kv_num_blocks"],
            batch["kv_indices"],
            batch["full_kv_num_blocks"],
            batch["full_kv_indices"],
            BLOCK_SIZE=BLOCK,
            mask_mod=same_document_causal,
            seq_lengths=(length, length),
        )
        return {"attention_mask": mask}
    length = documents.shape[1]
    causal = torch.ones((length, length), dtype=torch.bool, device=documents.device).tril()
    allowed = (documents[:, None, :, None] == documents[:, None, None, :]) & causal
    if implementation == EAGER:  # eager adds the mask to the scores
        zero = torch.zeros((), dtype=dtype, device=documents.device)
        return {"attention_mask": torch.where(allowed, zero, torch.finfo(dtype).min)}
    return {"attention_mask": allowed}


__all__ = ["BLOCK", "CHOICES", "EAGER", "FLASH", "FLEX", "ROWS", "SDPA", "attention_inputs"]
