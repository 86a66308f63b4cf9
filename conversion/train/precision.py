"""Stanford's precision: fp32 master weights and optimizer state, bf16 arithmetic.

Stanford loads LLaMA in fp32 and trains under ``--bf16`` (autocast): every matrix product runs
in bf16, every update lands in fp32 weights. Holding the weights themselves in bf16 loses the
recipe's updates: bf16 keeps 8 significant bits, so a weight of 0.02 moves only in steps of
about 1.2e-4, and Adam's first updates (about the learning rate, 2e-5, per element) round away.

The plans, by what a run uses:

- one device or DDP: fp32 weights and AdamW state, bf16 autocast — 16 bytes per parameter
  (weights 4, gradients 4, two moments 8), activations in bf16;
- FSDP: fp32 sharded parameters, bf16 compute, gradients reduced in fp32 (FSDP's
  ``MixedPrecisionPolicy``);
- DeepSpeed: bf16 working weights with fp32 master weights and state in its optimizer;
- LoRA: the frozen base in the compute precision, fp32 adapters (PEFT's default) — nothing
  frozen can lose an update;
- ``--lean`` (one device): bf16 weights and moments with a bf16 Kahan compensation per weight,
  through torch-optimi's AdamW: weight + compensation carries the fp32 sum, so no update is
  lost; 10 bytes per parameter (weights 2, gradients 2, moments 4, compensation 2), what lets a
  7B full fine-tune fit one 80 GB GPU. The saved model is weight + compensation, in fp32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from conversion.errors import TrainingError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class PrecisionPlan:
    compute: str  # "bf16" / "fp16" (autocast or FSDP/DeepSpeed casting) or "fp32"
    weights: str  # what the trained weights are held in
    optimizer_state: str
    master_weights: str  # where the fp32 copy lives, if the weights are not fp32 themselves
    gradient_reduce: str
    bytes_per_parameter: int | None  # weights + gradients + optimizer state (None: varies)
    tf32: bool
    load_dtype: str  # what the model is loaded in

    @property
    def compute_dtype(self) -> torch.dtype:
        return DTYPES[self.compute.split()[0]]

    @property
    def torch_load_dtype(self) -> torch.dtype:
        return DTYPES[self.load_dtype]

    @property
    def mixed(self) -> str:
        """What to give the Trainer: "bf16", "fp16" or "fp32"."""
        return self.compute.split()[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.compute} compute, {self.weights} weights, {self.optimizer_state} state"


def _gpu() -> tuple[bool, bool, bool]:
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    tf32 = cuda and torch.cuda.get_device_capability()[0] >= 8
    return cuda, bf16, tf32


def cpu_has_fast_bf16() -> bool:
    """AVX512-BF16 or AMX: where CPU autocast bf16 pays (it runs everywhere, slower elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def cpu_trains_lora_in_bf16() -> bool:
    """LoRA on a CPU whose bf16 arithmetic is fast: the frozen base in bf16 under bf16 autocast,
    the adapters fp32. Measured on SmolLM2-135M (2 cores with AMX): a step 1.8× faster than fp32,
    first-step loss within 0.05% of it. Without AVX512-BF16/AMX, bf16 is emulated and slower, so
    fp32 stays. A full fine-tune keeps fp32 on CPUs (its bf16 gain is smaller: fp32 weights)."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return not torch.cuda.is_available() and not mps and cpu_has_fast_bf16()


def plan_precision(
    requested: str, *, lora: bool = False, fsdp: bool = False, deepspeed: bool = False,
    lean: bool = False,
) -> PrecisionPlan:  # fmt: skip
    """The precision plan for ``--precision`` (auto: bf16 + tf32 where a GPU has them, bf16 for
    LoRA on a CPU with fast bf16, fp32 elsewhere) and the way the run trains."""
    cuda, gpu_bf16, tf32 = _gpu()
    if requested == "auto":
        compute = "bf16" if gpu_bf16 or (lora and cpu_trains_lora_in_bf16()) else "fp32"
    elif requested == "fp16" and not cuda:
        raise TrainingError("fp16 training needs a CUDA GPU.", "Use --precision bf16 or fp32.")
    elif requested == "bf16" and cuda and not gpu_bf16:
        raise TrainingError(
            "This GPU has no bf16 arithmetic.", "Use --precision fp16 (with loss scaling) or fp32."
        )
    else:
        compute = requested
    if lean and (compute != "bf16" or fsdp or deepspeed or lora):
        raise TrainingError(
            "--lean is a full fine-tune on one device in bf16.",
            "Leave out --lean with LoRA, FSDP or DeepSpeed (they have their own memory savings), "
            "and use it with --precision bf16 or auto on a bf16 GPU.",
        )
    autocast = f"{compute} autocast" if compute != "fp32" else "fp32"
    if compute == "fp32":
        return PrecisionPlan("fp32", "fp32", "fp32", "", "fp32", 16, tf32, "fp32")
    if lean:
        return PrecisionPlan(
            autocast,
            "bf16 + bf16 Kahan compensation",
            "bf16",
            "",
            "bf16",
            10,
            tf32,
            "bf16",
        )
    if lora:
        # frozen base in the compute dtype; PEFT keeps the adapters (the trained weights) in fp32
        return PrecisionPlan(autocast, "fp32 adapters", "fp32", "", "fp32", None, tf32, compute)
    if fsdp:
        return PrecisionPlan(
            f"{compute} (FSDP mixed precision)", "fp32", "fp32", "", "fp32", 16, tf32, "fp32"
        )
    if deepspeed:
        return PrecisionPlan(
            f"{compute} (DeepSpeed)", compute, "fp32", "fp32 in the optimizer", compute, 16, tf32,
            "fp32",
        )  # fmt: skip
    return PrecisionPlan(autocast, "fp32", "fp32", "", "fp32", 16, tf32, "fp32")


def lean_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float, args):
    """AdamW on bf16 weights with Kahan-summed updates (torch-optimi), with the Trainer's betas
    and epsilon. torch-optimi is a maintained library that implements exactly this (and a Triton
    kernel on GPUs); torchao's alternative rounds stochastically, which keeps updates only on
    average and needs torch.compile for every parameter shape."""
    try:
        from optimi import AdamW
    except ImportError as exc:
        raise TrainingError(
            "--lean needs torch-optimi.", "Install the train extra: pip install 'huacaya[train]'."
        ) from exc
    parameters = [p for p in model.parameters() if p.requires_grad]
    return AdamW(
        parameters,
        lr=learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon,
        weight_decay=weight_decay,
        kahan_sum=True,
    )


def fold_kahan_into_fp32(model: torch.nn.Module, optimizer) -> None:
    """Turn the bf16 weights into fp32 ones holding weight + Kahan compensation: the value the
    optimizer has been summing, so the saved model keeps every update."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
    with torch.no_grad():
        for parameter in model.parameters():
            state = inner.state.get(parameter, {}) if inner is not None else {}
            compensation = state.get("kahan_comp")
            exact = parameter.detach().float()
            if isinstance(compensation, torch.Tensor) and compensation.shape == parameter.shape:
                exact = exact + compensation.float()
            parameter.data = exact
