"""Scaling out on existing engines: DDP, FSDP and DeepSpeed ZeRO-3, through the Trainer.

The same ``huacaya-train`` command runs under ``torchrun`` or ``accelerate launch``; these
functions only turn ``--fsdp`` / ``--deepspeed`` into the Trainer's arguments.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from conversion.errors import TrainingError

ZERO3_OFFLOAD = "zero3-offload"
ZERO3 = "zero3"  # parameters and optimizer state sharded over the GPUs, nothing offloaded


def world_size() -> int:
    """Processes in this run, as torchrun and accelerate launch announce them."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def fsdp_arguments(layer_classes: list[str], cpu_offload: bool = False) -> dict[str, Any]:
    """Stanford's ``--fsdp "full_shard auto_wrap"`` in today's terms: FSDP2 that reshards the
    parameters after each forward (full shard), wrapping each of the model's own decoder layers.
    Checkpoints hold a full state dict, gathered to CPU on rank 0 only (accelerate's
    ``FULL_STATE_DICT``: offload_to_cpu + rank0_only), so saving a 7B model does not need a
    second copy in GPU memory. ``cpu_ram_efficient_loading`` loads the weights on rank 0 only."""
    return {
        "fsdp": True,
        "fsdp_config": {
            "version": 2,
            "reshard_after_forward": True,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "transformer_layer_cls_to_wrap": layer_classes,
            "state_dict_type": "FULL_STATE_DICT",
            "cpu_ram_efficient_loading": True,
            "cpu_offload": cpu_offload,
        },
    }


def deepspeed_config(choice: str) -> dict[str, Any]:
    """ZeRO-3 with optimizer and parameter offload to CPU, like Stanford's
    ``default_offload_opt_param.json`` (its scheduler is left to the Trainer so the recipe's
    cosine schedule applies), ZeRO-3 without offload (``zero3``: PyTorch's AdamW on the fp32
    master shards, no extension to compile), or the user's own JSON file. With bf16, DeepSpeed
    computes with bf16 weights and keeps fp32 master weights and state in its optimizer; the
    saved model is gathered from those masters (see :func:`fp32_state_dict`)."""
    try:
        import deepspeed  # noqa: F401
    except ImportError as exc:
        raise TrainingError(
            "DeepSpeed is not installed.",
            "Install it on the GPU machine: pip install 'huacaya[deepspeed]' (it needs CUDA).",
        ) from exc
    if choice in (ZERO3_OFFLOAD, ZERO3):
        name = "zero3_offload.json" if choice == ZERO3_OFFLOAD else "zero3.json"
        text = resources.files("conversion.train").joinpath(f"configs/{name}")
        return json.loads(text.read_text(encoding="utf-8"))
    path = Path(choice).expanduser()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainingError(f"Could not read the DeepSpeed config “{path}”: {exc}.") from exc


def fp32_state_dict(model) -> dict[str, Any]:
    """The full fp32 weights of a ZeRO-3 model, gathered from the optimizer's master copies
    (a collective: every process calls it); DeepSpeed's own save gathers the bf16 working copy,
    which would round away a short run's updates."""
    from deepspeed.utils import safe_get_full_fp32_param

    state = {}
    module = getattr(model, "module", model)  # the engine wraps the model
    for name, parameter in module.named_parameters():
        full = safe_get_full_fp32_param(parameter)
        if full is not None:
            state[name] = full.detach().cpu()
    return state
