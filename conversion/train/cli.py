"""``huacaya-train``: Stanford Alpaca's supervised fine-tune (or LoRA), resumable, exportable.

    huacaya-train --base MODEL --data DATA --out DIR [--lora] [--export-gguf [TYPE]]

MODEL is a checkpoint folder, a Hub model id, a GGUF file or an installed model's name
(``bases.resolve_base``; the app's ``huacaya-train``, ``desktop/cli/train.py``, gives this
module the library and the cache folder).

Runs the same under ``torchrun --nproc_per_node N`` or ``accelerate launch`` (DDP; add ``--fsdp``
or ``--deepspeed``). The options are read here without torch, so ``--help`` and bad options
answer at once, and a missing ``train`` extra gives one clear line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from conversion.errors import Cancelled, HuacayaError, TrainingError
from conversion.progress import CancelToken, ProgressBar, cancel_on_interrupt, sub_range
from conversion.train.bases import ModelResolver, resolve_base
from conversion.train.recipe import ALPACA_LORA, LORA_DROPOUT, LORA_TARGETS, STANFORD, TrainConfig

EXPORT_HELP = "f16, bf16, f32, q8_0, q6_k, q5_k_m, q5_1, q5_0, q4_k_m, q4_1, q4_0, q3_k_m, q2_k"
BASE_CHECKPOINTS = "base-checkpoints"  # in the cache: checkpoints made from GGUF files


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huacaya-train",
        description="Fine-tune a causal language model on Alpaca-style instruction data with "
        "Stanford Alpaca's recipe (full fine-tune) or alpaca-lora's (--lora).",
    )
    parser.add_argument(
        "--base",
        required=True,
        help="an installed model's name (huacaya models list), a .gguf file, a checkpoint folder "
        "or a Hub model id (with HF_HUB_OFFLINE=1, only what is on this computer)",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="Alpaca JSON/JSONL/CSV/Parquet file or folder, or Hub dataset id",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for the run and model")
    recipe = parser.add_argument_group("recipe (Stanford Alpaca's defaults)")
    recipe.add_argument(
        "--learning-rate",
        type=float,
        help=f"default {STANFORD['learning_rate']} ({ALPACA_LORA['learning_rate']} with --lora)",
    )
    recipe.add_argument("--epochs", type=float, default=STANFORD["epochs"])
    recipe.add_argument(
        "--global-batch",
        type=int,
        default=STANFORD["global_batch"],
        help="examples per optimizer step: per-device batch × accumulation × processes",
    )
    recipe.add_argument(
        "--per-device-batch", type=int, default=4, help="examples per micro-batch (--no-packing)"
    )
    recipe.add_argument("--max-length", type=int, default=STANFORD["max_length"])
    recipe.add_argument("--weight-decay", type=float, default=STANFORD["weight_decay"])
    recipe.add_argument("--warmup-ratio", type=float, default=STANFORD["warmup_ratio"])
    recipe.add_argument("--scheduler", default=STANFORD["scheduler"])
    recipe.add_argument("--seed", type=int, default=42)
    recipe.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "bf16", "fp16", "fp32"],
        help="compute precision; weights and optimizer state stay fp32 (Stanford's). auto: bf16 "
        "+ tf32 where the GPU has them, bf16 for --lora on a CPU with AVX512-BF16 or AMX, fp32 "
        "elsewhere; bf16 also runs on other CPUs (autocast, slower)",
    )
    recipe.add_argument(
        "--lean",
        action="store_true",
        help="one GPU, full fine-tune: bf16 weights with Kahan-summed AdamW (torch-optimi), no "
        "update lost; 10 bytes per parameter instead of 16 (a 7B model fits 80 GB)",
    )
    quick = parser.add_argument_group("quick runs")
    quick.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps")
    quick.add_argument("--limit", type=int, default=0, help="use only the first N records")
    speed = parser.add_argument_group("speed")
    speed.add_argument(
        "--no-packing",
        dest="packing",
        action="store_false",
        help="Stanford's way: micro-batches of --per-device-batch examples, each padded to its "
        "longest, instead of token-sized micro-batches of packed examples",
    )
    speed.add_argument(
        "--tokens-per-micro-batch",
        type=int,
        default=0,
        help="tokens per forward/backward pass; a step's examples go in as few as fit "
        "(default: what the device's memory holds)",
    )
    speed.add_argument(
        "--attention",
        default="auto",
        choices=["auto", "flash", "flex", "sdpa"],
        help="how packed examples are kept apart: flash-attention's variable-length kernels, "
        "FlexAttention's document mask (CUDA), or sdpa on rows of --pack-length (auto: the "
        "first available)",
    )
    speed.add_argument(
        "--pack-length",
        type=int,
        default=0,
        help="tokens per packed row with sdpa attention (default: --max-length)",
    )
    speed.add_argument(
        "--compile", action="store_true", help="torch.compile each decoder layer (long runs)"
    )
    speed.add_argument(
        "--group-by-length", action="store_true", help="batch examples of similar length"
    )
    speed.add_argument("--gradient-checkpointing", action="store_true")
    speed.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for PyTorch (default on a CPU: the cores idle when the run starts)",
    )
    lora = parser.add_argument_group("LoRA (alpaca-lora's defaults, without dropout)")
    lora.add_argument("--lora", action="store_true", help="train a LoRA adapter only")
    lora.add_argument("--lora-r", type=int, default=ALPACA_LORA["lora_r"])
    lora.add_argument("--lora-alpha", type=int, default=ALPACA_LORA["lora_alpha"])
    lora.add_argument(
        "--lora-dropout",
        type=float,
        default=LORA_DROPOUT,
        help=f"dropout on the adapters' input (default {LORA_DROPOUT}, as PEFT and Unsloth; "
        f"alpaca-lora's is {ALPACA_LORA['lora_dropout']})",
    )
    lora.add_argument(
        "--lora-targets", default=",".join(LORA_TARGETS), help="comma-separated module names"
    )
    scale = parser.add_argument_group("several GPUs (under torchrun or accelerate launch)")
    scale.add_argument("--fsdp", action="store_true", help="FSDP full shard, auto wrap")
    scale.add_argument(
        "--deepspeed",
        nargs="?",
        const="zero3-offload",
        default="",
        metavar="CONFIG",
        help="DeepSpeed: zero3-offload (ZeRO-3 with CPU offload, Stanford's), zero3 (no "
        "offload) or your JSON config",
    )
    run = parser.add_argument_group("checkpoints and export")
    run.add_argument(
        "--save-steps",
        type=int,
        default=100,
        help="checkpoint every N steps, to resume from (0: none; a stopped run starts over)",
    )
    run.add_argument("--save-total-limit", type=int, default=2)
    run.add_argument(
        "--export-gguf",
        nargs="?",
        const="base",
        default="",
        metavar="TYPE",
        help=f"add it to the app ({EXPORT_HELP}; without TYPE, or base: the quantization of the "
        "GGUF it was trained on)",
    )
    run.add_argument("--name", default="", help="its name in the app (default: the --out name)")
    return parser


def config_from(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        base=args.base,
        data=args.data,
        out=str(args.out),
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        global_batch=args.global_batch,
        per_device_batch=args.per_device_batch,
        max_length=args.max_length,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        scheduler=args.scheduler,
        seed=args.seed,
        max_steps=args.max_steps,
        limit=args.limit,
        packing=args.packing,
        tokens_per_micro_batch=args.tokens_per_micro_batch,
        attention=args.attention,
        pack_length=args.pack_length,
        compile=args.compile,
        lean=args.lean,
        group_by_length=args.group_by_length,
        precision=args.precision,
        gradient_checkpointing=args.gradient_checkpointing,
        lora=args.lora,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        lora_targets=[t.strip() for t in args.lora_targets.split(",") if t.strip()],
        fsdp=args.fsdp,
        deepspeed=args.deepspeed,
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        threads=args.threads,
        export_gguf=(args.export_gguf or "").lower(),
        name=args.name,
    )


def run(
    config: TrainConfig,
    cancel: CancelToken,
    resolve_model: ModelResolver | None = None,
    gguf_cache: Path | None = None,
) -> int:
    try:
        from conversion.quant_merge import is_quantized
        from conversion.train.data import load_training_data, looks_like_hub_id
        from conversion.train.export import EXPORT_TYPES, export_to_library, export_type_for
        from conversion.train.run import finished_run, train
    except ImportError as exc:
        raise TrainingError(
            f"Training needs PyTorch, transformers, peft and accelerate ({exc.name} is missing).",
            "Install the train extra: pip install 'huacaya[train]'.",
        ) from exc
    if config.export_gguf and config.export_gguf not in (*EXPORT_TYPES, "base"):
        raise TrainingError(
            f"Unknown GGUF type “{config.export_gguf}”.", f"Choose one of {EXPORT_HELP}, or base."
        )
    if not looks_like_hub_id(config.data):
        # data here is checked first: a bad record is reported before a base is looked up or
        # converted from a GGUF (minutes), and before --out is made
        load_training_data(config.data, config.limit)
    main_process = int(os.environ.get("RANK", "0")) == 0
    bar = ProgressBar() if main_process else lambda fraction, message="": None
    base = resolve_base(
        config.base,
        gguf_cache or default_gguf_cache(),
        resolve_model,
        sub_range(bar, 0.0, 0.1),
        cancel,
    )
    if str(base.checkpoint) != config.base:
        config = replace(config, base=str(base.checkpoint), base_source=config.base)
    if config.export_gguf == "base":
        config = replace(config, export_gguf=export_type_for(base))
    share = 0.8 if config.export_gguf else 1.0
    # a finished run of this very command only needs exporting
    result = finished_run(config) if config.export_gguf else None
    done_before = result is not None
    if result is None:
        result = train(config, sub_range(bar, 0.1, share), cancel)
    if not main_process:
        return 0
    if isinstance(bar, ProgressBar):
        bar.finish()
    print(
        f"{'Already trained' if done_before else 'Trained'}: {result.steps} steps on "
        f"{result.examples:,} examples, final loss {result.final_loss:.4f}; "
        f"model in {result.model_dir}"
    )
    if config.export_gguf:
        name = config.name or Path(config.out).name
        # a LoRA going back into its GGUF base's own quantization keeps that file's bytes
        keep_from = None
        if config.lora and base.gguf is not None and config.export_gguf == export_type_for(base):
            keep_from = base.gguf if is_quantized(base.gguf) else None
        exported = export_to_library(
            result.model_dir,
            name,
            config.export_gguf,
            base.checkpoint if config.lora else None,
            sub_range(bar, share, 1.0),
            cancel,
            keep_from=keep_from,
        )
        if isinstance(bar, ProgressBar):
            bar.finish()
        print(
            f"Installed “{exported.name}” ({config.export_gguf.upper()}) as {exported.model_id}. "
            f"Chat with it: huacaya chat --model {exported.model_id}"
        )
        print(compare_with_base(exported.model_id, config.base_source or config.base))
    return 0


def default_gguf_cache() -> Path:
    """Where checkpoints made from GGUF files go when no app gave a folder (``python -m
    conversion.train``): ``HUACAYA_CACHE``, else the platform's cache folder for Huacaya."""
    import platformdirs

    root = os.environ.get("HUACAYA_CACHE") or platformdirs.user_cache_dir(
        "Huacaya", appauthor=False
    )
    return Path(root).expanduser() / BASE_CHECKPOINTS


def compare_with_base(model_id: str, base: str) -> str:
    """The ``huacaya eval`` commands that compare a newly exported model with its base."""
    path = Path(base)
    if path.is_dir() or path.is_file():  # a checkpoint folder or a GGUF file: import it once
        base_name = path.stem if path.is_file() else path.name
        install = f" (install the base once: huacaya models import {base})"
    elif "/" in base:  # a Hub id
        base_name = base.rsplit("/", 1)[-1]
        install = f" (install the base once: huacaya models pull {base})"
    else:  # a model of the library: installed already
        base_name, install = base, ""
    prompts = "self-instruct"
    return (
        f"Is it better than its base? Compare them blindly{install}:\n"
        f"  huacaya eval vote {model_id} {base_name} --prompts {prompts}\n"
        f"  huacaya eval judge --judge JUDGE_MODEL_OR_URL {model_id} {base_name} "
        f"--prompts {prompts}\n"
        f"({prompts}: the Self-Instruct user-oriented set, downloaded the first time; or give "
        "any instruction file of yours.)"
    )


def main(
    argv: Sequence[str] | None = None,
    resolve_model: ModelResolver | None = None,
    gguf_cache: Path | None = None,
) -> int:
    """The command; the app passes its library (``resolve_model``) and cache folder."""
    args = build_parser().parse_args(argv)
    try:
        with cancel_on_interrupt() as cancel:
            return run(config_from(args), cancel, resolve_model, gguf_cache)
    except Cancelled as exc:
        print(f"\nhuacaya-train: {exc}", file=sys.stderr)
        return 130
    except HuacayaError as exc:
        print(f"\nhuacaya-train: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
