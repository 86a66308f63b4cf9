"""Speed as the field reports it: model FLOPs utilisation (MFU) and peak memory.

Model FLOPs of a step are counted from the examples themselves, the same way for every batch
layout (padding and skipped projections earn nothing):

- 6 × (parameters of the linear layers below the head) per real token (forward 2, backward 4);
- 6 × hidden × vocabulary per trained position (the head, where a response token is predicted);
- 6 × layers × (heads × head dim) × n² per example of n tokens (causal attention: QKᵀ and AV
  over half of the n × n square, forward and backward).

MFU is those FLOPs per second over the accelerator's dense peak for the compute precision
(bf16 or tf32), from its datasheet; ``HUACAYA_PEAK_TFLOPS`` sets it for hardware not listed
(CPUs have none, so MFU is left empty there).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch

# dense TFLOP/s per device: (bf16/fp16, tf32); matched against the CUDA device name, in order
PEAK_TFLOPS = (
    ("GB200", 2500.0, 1250.0),
    ("B200", 2250.0, 1100.0),
    ("H200", 989.5, 494.7),
    ("H100 PCIe", 756.0, 378.0),
    ("H100", 989.5, 494.7),
    ("H800", 989.5, 494.7),
    ("GH200", 989.5, 494.7),
    ("A100", 312.0, 156.0),
    ("A800", 312.0, 156.0),
    ("L40S", 362.0, 183.0),
    ("L40", 181.0, 90.5),
    ("L4", 121.0, 60.0),
    ("A10", 125.0, 62.5),
    ("RTX 4090", 165.2, 82.6),
    ("RTX 3090", 71.0, 35.6),
)


@dataclass
class ModelFlops:
    linear_parameters: int  # below the head
    head: int  # hidden × vocabulary
    attention: int  # layers × heads × head dim

    def step(self, tokens: int, trained: int, attention_pairs: int) -> float:
        return 6.0 * (
            self.linear_parameters * tokens + self.head * trained + self.attention * attention_pairs
        )

    @classmethod
    def of(cls, model: torch.nn.Module) -> ModelFlops:
        config = model.config
        head = model.get_output_embeddings()
        head_weight = getattr(getattr(head, "base_layer", head), "weight", None)
        linear = 0
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.weight is not head_weight:
                linear += module.weight.numel()
        hidden = int(getattr(config, "hidden_size", 0))
        heads = int(getattr(config, "num_attention_heads", 0))
        head_dim = int(getattr(config, "head_dim", None) or (hidden // heads if heads else 0))
        layers = int(getattr(config, "num_hidden_layers", 0))
        vocab = int(getattr(config, "vocab_size", 0))
        return cls(linear, hidden * vocab, layers * heads * head_dim)


def peak_tflops(compute: str) -> float | None:
    """The device's dense peak for ``compute`` ("bf16", "fp16" or "fp32"), or None."""
    if os.environ.get("HUACAYA_PEAK_TFLOPS"):
        return float(os.environ["HUACAYA_PEAK_TFLOPS"])
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, half, tf32 in PEAK_TFLOPS:
        if key in name:
            return half if compute in ("bf16", "fp16") else tf32
    return None


def peak_memory_gib() -> float:
    """The most memory this process has held: on the GPU (allocated by PyTorch), else RAM."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    try:
        import resource
    except ImportError:  # Windows: the current size
        import psutil

        return psutil.Process().memory_info().rss / 2**30
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, else KiB
