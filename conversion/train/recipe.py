"""The options of a training run, with Stanford Alpaca's recipe (and alpaca-lora's) as defaults.

Plain data, no torch: the command line fills it, the manifest records it, ``train`` runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conversion.errors import TrainingError

# Stanford Alpaca (train.py and the README's command): full fine-tune, FSDP full_shard auto_wrap.
STANFORD: dict[str, Any] = {
    "learning_rate": 2e-5,
    "epochs": 3.0,
    "global_batch": 128,
    "max_length": 512,
    "weight_decay": 0.0,
    "warmup_ratio": 0.03,
    "scheduler": "cosine",
}
# alpaca-lora (finetune.py): r 8, alpha 16, dropout 0.05 on q_proj and v_proj, lr 3e-4.
ALPACA_LORA: dict[str, Any] = {
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "learning_rate": 3e-4,
}
LORA_TARGETS = ("q_proj", "v_proj")
# Our LoRA default differs from alpaca-lora in one place: no dropout on the adapters' input, as
# PEFT, LLaMA-Factory, torchtune and Unsloth default to. On a CPU, drawing a random mask for
# every q/v input was 13% of a LoRA step's time on the starter model (a profile of
# `benchmarks/train_lora_cpu.py`'s run; the benchmark prints both). `--lora-dropout 0.05` gives
# alpaca-lora's recipe exactly.
LORA_DROPOUT = 0.0


@dataclass
class TrainConfig:
    base: str  # a checkpoint folder or a Hub model id (``bases.resolve_base`` makes it a folder)
    data: str  # a data file or folder, or a Hub dataset id
    out: str
    learning_rate: float | None = None  # None: Stanford's (full) or alpaca-lora's (LoRA)
    epochs: float = STANFORD["epochs"]
    global_batch: int = STANFORD["global_batch"]
    per_device_batch: int = 4
    max_length: int = STANFORD["max_length"]
    weight_decay: float = STANFORD["weight_decay"]
    warmup_ratio: float = STANFORD["warmup_ratio"]
    scheduler: str = STANFORD["scheduler"]
    seed: int = 42
    max_steps: int = 0  # 0: run the epochs
    limit: int = 0  # 0: every record
    packing: bool = True  # False: Stanford's padded batches of per_device_batch examples
    tokens_per_micro_batch: int = 0  # 0: what fits the device's memory (packing only)
    attention: str = "auto"  # auto (flash-attention, else FlexAttention on CUDA, else sdpa rows)
    pack_length: int = 0  # tokens per packed row for sdpa (0: max_length)
    compile: bool = False  # torch.compile each decoder layer
    group_by_length: bool = False
    precision: str = "auto"  # auto (bf16 + tf32 where the hardware has them), bf16, fp16, fp32
    lean: bool = False  # bf16 weights + Kahan-summed AdamW (10 bytes per parameter, one device)
    gradient_checkpointing: bool = False
    lora: bool = False
    lora_r: int = ALPACA_LORA["lora_r"]
    lora_alpha: int = ALPACA_LORA["lora_alpha"]
    lora_dropout: float = LORA_DROPOUT
    lora_targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    fsdp: bool = False
    deepspeed: str = ""  # "" (off), "zero3-offload" (Stanford's), or a DeepSpeed JSON file
    save_steps: int = 100
    save_total_limit: int = 2
    threads: int = 0  # CPU threads for torch (0: torch's default)
    export_gguf: str = ""  # a converter/quantizer type: q4_k_m, q8_0, f16, …
    name: str = ""  # the model's name in the app's library
    base_source: str = (
        ""  # what --base said (a GGUF, a library name…) when ``base`` was made from it
    )

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return ALPACA_LORA["learning_rate"] if self.lora else STANFORD["learning_rate"]

    def accumulation_steps(self, world_size: int) -> int:
        """Gradient accumulation that makes per-device × accumulation × devices = global batch."""
        per_step = self.per_device_batch * world_size
        if self.global_batch % per_step:
            raise TrainingError(
                f"A global batch of {self.global_batch} cannot be split into {world_size} "
                f"device{'s' * (world_size != 1)} × {self.per_device_batch} examples.",
                "Choose --global-batch as a multiple of --per-device-batch × the number of "
                "processes.",
            )
        return self.global_batch // per_step

    def examples_per_process(self, world_size: int) -> int:
        """With token-sized micro-batches each process takes its share of a step at once."""
        if self.global_batch % world_size:
            raise TrainingError(
                f"A global batch of {self.global_batch} cannot be split over {world_size} "
                "processes.",
                "Choose --global-batch as a multiple of the number of processes.",
            )
        return self.global_batch // world_size

    def check(self) -> None:
        problems = []
        for name in ("global_batch", "per_device_batch", "max_length"):
            if getattr(self, name) <= 0:
                problems.append(f"--{name.replace('_', '-')} must be positive")
        if self.save_steps < 0:
            problems.append("--save-steps must be positive (or 0: no checkpoints)")
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("--epochs or --max-steps must be positive")
        if self.lr <= 0:
            problems.append("--learning-rate must be positive")
        if self.fsdp and self.deepspeed:
            problems.append("choose FSDP or DeepSpeed, not both")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            problems.append("--precision must be auto, bf16, fp16 or fp32")
        if self.attention not in ("auto", "flash", "flex", "sdpa"):
            problems.append("--attention must be auto, flash, flex or sdpa")
        if self.tokens_per_micro_batch < 0:
            problems.append("--tokens-per-micro-batch must be positive (or 0: automatic)")
        elif 0 < self.tokens_per_micro_batch < self.max_length:
            problems.append("--tokens-per-micro-batch must hold one example of --max-length")
        if problems:
            raise TrainingError("; ".join(problems).capitalize() + ".")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "learning_rate": self.lr}

    def run_identity(self) -> dict[str, Any]:
        """What must match for a second start with the same --out to be a resume of this run."""
        # how micro-batches are laid out changes the speed, not the steps
        ignored = {"out", "threads", "export_gguf", "name", "save_steps", "save_total_limit"}
        ignored |= {"base_source"}  # ``base`` (the checkpoint it named) is what counts
        ignored |= {"tokens_per_micro_batch", "attention", "pack_length", "compile"}
        return {k: v for k, v in self.to_dict().items() if k not in ignored}
