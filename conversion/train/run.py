"""One supervised fine-tuning run on transformers' Trainer, Stanford Alpaca's recipe by default.

``train(config)`` checks everything it can before writing anything (options, every data record,
the tokenizer, what ``--out`` already holds), then trains, checkpointing every ``save_steps``;
the same call on the same ``--out`` resumes from the last complete checkpoint with the same data
order (the Trainer restores optimizer, scheduler, RNG and sampler position). ``--out`` ends up
with ``manifest.json``, ``metrics.csv``, ``loss.png``, ``checkpoints/`` and ``model/`` (the
fine-tuned model, or the LoRA adapter in PEFT format, with Stanford's prompt as chat template).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PrinterCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging as transformers_logging

from conversion import alpaca
from conversion.cpu_threads import ThreadChoice, choose_threads
from conversion.errors import Cancelled, TrainingError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress, sub_range
from conversion.train import distributed, layout, lora
from conversion.train.callbacks import ReportingCallback, TrainStatus
from conversion.train.data import TrainingData, load_training_data
from conversion.train.examples import Example, build_examples
from conversion.train.loss import remove_response_loss
from conversion.train.model import add_pad_token, clean_for_saving, load_model, load_tokenizer
from conversion.train.packing import TokenCounter
from conversion.train.precision import PrecisionPlan, fold_kahan_into_fp32, plan_precision
from conversion.train.recipe import TrainConfig
from conversion.train.run_record import (
    LOSS_PLOT,
    METRICS,
    MetricsFile,
    git_revision,
    hardware,
    now,
    package_versions,
    plot_loss,
    read_manifest,
    write_manifest,
)
from conversion.train.speed import ModelFlops, peak_tflops
from conversion.train.trainer import StepTrainer

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
MODEL = "model"
TRAINER_STATE = "trainer_state.json"


@dataclass
class TrainResult:
    out: Path
    model_dir: Path
    steps: int
    final_loss: float
    resumed_from: int  # the step the run resumed at (0 for a fresh start)
    examples: int


class ExampleDataset(torch.utils.data.Dataset):
    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self.examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}


def train(
    config: TrainConfig,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    on_status: Callable[[TrainStatus], None] | None = None,
) -> TrainResult:
    config.check()
    if (config.fsdp or config.deepspeed) and not torch.cuda.is_available():
        # accelerate would quietly run CPU processes as plain DDP
        raise TrainingError(
            f"{'FSDP' if config.fsdp else 'DeepSpeed'} needs CUDA GPUs.",
            "On CPUs, launch the same command without it: several processes train with DDP.",
        )
    transformers_logging.disable_progress_bar()  # we show our own progress
    # transformers ≥ 5.2x (which installs `kernels`) fetches kernels from the Hub on CUDA and
    # refused them on the H200 ("could not verify publisher trust status"): a training run uses
    # its own kernels and must work offline. The user can still turn them on.
    os.environ.setdefault("USE_HUB_KERNELS", "NO")
    world = distributed.world_size()
    threads = _cpu_threads(config, world)
    plan = plan_precision(
        config.precision,
        lora=config.lora,
        fsdp=config.fsdp,
        deepspeed=bool(config.deepspeed),
        lean=config.lean,
    )
    batches = layout.plan_layout(config, world)
    progress(0.0, "reading the data")
    data = load_training_data(config.data, config.limit)
    tokenizer = load_tokenizer(config.base)
    out = Path(config.out).expanduser()
    resume_step, checkpoint = _check_out(out, config, data)
    cancel.check()

    main = distributed.is_main_process()
    progress(0.01, f"loading {config.base}")
    model = load_model(config.base, plan.torch_load_dtype, batches.attention)
    if config.lora:
        lora.use_existing_pad_token(tokenizer)
    else:
        add_pad_token(tokenizer, model)
    examples = build_examples(
        data.records, tokenizer, config.max_length, sub_range(progress, 0.01, 0.03), cancel
    )
    trainable = [e for e in examples if e.trained_tokens]
    if not trainable:
        raise TrainingError(
            f"Every prompt is at least {config.max_length} tokens long: nothing to train on.",
            "Raise --max-length.",
        )
    if config.gradient_checkpointing:
        _checkpoint_activations(model)
    layout.prepare(model, config, batches, plan, world)
    counter = TokenCounter(flops=ModelFlops.of(model))
    causal_lm = model  # the model whose forward trains on micro-batches (LoRA wraps it)
    if config.lora:
        model = lora.wrap(model, config, autocast=plan.mixed != "fp32")
    if main:
        out.mkdir(parents=True, exist_ok=True)
        manifest = _manifest(config, data, plan, batches, world)
        if threads is not None:
            manifest["cpu_threads"] = threads.to_dict()
        manifest["resumed_from_step"] = resume_step
        write_manifest(out, manifest)

    metrics = MetricsFile(out / METRICS) if main else None
    reporter = ReportingCallback(
        counter,
        metrics,
        sub_range(progress, 0.03, 0.97),
        cancel,
        on_status,
        peak_tflops=peak_tflops(plan.mixed),
        on_begin=(lambda total: _record_total_steps(out, total)) if main else None,
    )
    trainer = StepTrainer(
        counter=counter,
        plan=plan,
        lean=config.lean,
        fsdp=config.fsdp,
        model=model,
        args=_arguments(config, out, plan, batches),
        train_dataset=ExampleDataset(trainable),
        data_collator=layout.collator(batches, tokenizer.pad_token_id),
        processing_class=tokenizer,
        callbacks=[reporter],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; our bar shows them
    output = trainer.train(resume_from_checkpoint=checkpoint)
    if reporter.cancelled_at is not None:
        raise Cancelled(
            f"Training stopped at step {reporter.cancelled_at}.",
            "Run the same command again to go on from there.",
        )

    progress(0.97, "saving the model")
    model_dir = out / MODEL
    tokenizer.chat_template = alpaca.CHAT_TEMPLATE  # what the model was trained on
    clean_for_saving(tokenizer)
    trainer.model.config.use_cache = True  # turned off for training; inference wants it
    if config.lean:  # weight + Kahan compensation: the fp32 values the optimizer summed
        fold_kahan_into_fp32(trainer.model, trainer.optimizer)
    _save(trainer, config, model_dir)
    remove_response_loss(causal_lm)
    final_loss = metrics.rows[-1].loss if metrics and metrics.rows else float(output.training_loss)
    if main:
        plot_loss(
            out / METRICS,
            out / LOSS_PLOT,
            f"{Path(config.base_source or config.base).name} on {data.source}",
        )
        manifest = read_manifest(out) or {}
        manifest.update(
            status="finished",
            finished_at=now(),
            steps=trainer.state.global_step,
            final_loss=final_loss,
            examples=len(trainable),
            examples_without_response=len(examples) - len(trainable),
            padding_fraction=round(counter.padding_fraction, 4),
            **reporter.summary(),
        )
        write_manifest(out, manifest)
    progress(1.0, f"done: {trainer.state.global_step} steps, loss {final_loss:.4f}")
    return TrainResult(
        out, model_dir, trainer.state.global_step, final_loss, resume_step, len(trainable)
    )


def _cpu_threads(config: TrainConfig, world: int) -> ThreadChoice | None:
    """PyTorch's thread count: --threads, or on a CPU-only run of one process the cores that are
    idle now (``cpu_threads``); None where the run keeps torch's own choice."""
    accelerated = torch.cuda.is_available() or (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    )
    if not config.threads and (accelerated or world > 1):
        return None
    choice = choose_threads(config.threads)
    torch.set_num_threads(choice.threads)
    log.info("training with %d CPU threads (%s)", choice.threads, choice.reason)
    return choice


def _record_total_steps(out: Path, total: int) -> None:
    """The manifest says how many steps the run makes (a window shows "step 3 of 40")."""
    manifest = read_manifest(out) or {}
    manifest["total_steps"] = total
    write_manifest(out, manifest)


def _checkpoint_activations(model) -> None:
    """Recompute activations in the backward pass, under transformers' current name for it
    (``gradient_checkpointing_enable`` is a deprecated alias since transformers 5.2x and warns)."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _save(trainer: StepTrainer, config: TrainConfig, model_dir: Path) -> None:
    if not config.deepspeed:
        trainer.save_model(str(model_dir))
        return
    state = distributed.fp32_state_dict(trainer.model_wrapped)  # every process takes part
    if trainer.args.should_save:
        unwrapped = trainer.accelerator.unwrap_model(trainer.model_wrapped)
        unwrapped.save_pretrained(model_dir, state_dict=state)
        if trainer.processing_class is not None:
            trainer.processing_class.save_pretrained(model_dir)


def finished_run(config: TrainConfig) -> TrainResult | None:
    """This very run, already finished in ``--out`` (so the same command can still export it)."""
    out = Path(config.out).expanduser()
    manifest = read_manifest(out) or {}
    if (
        manifest.get("status") != "finished"
        or manifest.get("identity") != config.run_identity()
        or not (out / MODEL).is_dir()
    ):
        return None
    return TrainResult(
        out,
        out / MODEL,
        int(manifest.get("steps", 0)),
        float(manifest.get("final_loss", 0.0)),
        int(manifest.get("resumed_from_step", 0)),
        int(manifest.get("examples", 0)),
    )


def _arguments(config: TrainConfig, out: Path, plan: PrecisionPlan, batches: layout.Layout):
    extra: dict = {}
    cuda = torch.cuda.is_available()
    if config.fsdp:
        extra.update(distributed.fsdp_arguments(batches.layer_classes))
    if config.deepspeed:
        extra["deepspeed"] = distributed.deepspeed_config(config.deepspeed)
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if not cuda and (distributed.world_size() > 1 or (plan.mixed == "bf16" and not mps)):
        # several CPU processes (without use_cpu accelerate would not set up DDP at all), or
        # bf16 autocast on the CPU, which the Trainer only allows with use_cpu
        extra["use_cpu"] = True
        if distributed.world_size() > 1:
            extra["ddp_backend"] = "gloo"
    if cuda and batches.packing:  # steps built ahead, in a worker, copied while the GPU works
        extra.update(dataloader_num_workers=1, dataloader_prefetch_factor=2)
    return TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        per_device_train_batch_size=batches.examples_per_batch,
        gradient_accumulation_steps=batches.accumulation,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # below 1: a ratio of the total steps
        lr_scheduler_type=config.scheduler,
        bf16=plan.mixed == "bf16",
        fp16=plan.mixed == "fp16",
        tf32=True if plan.tf32 else None,
        logging_steps=1,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 1,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        remove_unused_columns=False,
        dataloader_pin_memory=cuda,
        accelerator_config={"non_blocking": cuda},
        report_to="none",
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        **extra,
    )


def _check_out(out: Path, config: TrainConfig, data: TrainingData) -> tuple[int, str | None]:
    """What ``--out`` holds: nothing (a new run), this very run (resume from its last complete
    checkpoint), or something else (refused). Returns (resume step, checkpoint or None)."""
    if not out.exists():
        return 0, None
    if not out.is_dir():
        raise TrainingError(f"“{out}” is a file.", "Give a folder for --out.")
    manifest = read_manifest(out)
    if manifest is None:
        if any(not p.name.startswith(".") for p in out.iterdir()):
            raise TrainingError(
                f"“{out}” already holds other files.",
                "Give a new or empty folder for --out (a stopped run resumes in its own folder).",
            )
        return 0, None
    same = manifest.get("identity") == config.run_identity()
    if not same or manifest.get("data_sha256") != data.sha256:
        raise TrainingError(
            f"“{out}” holds another training run (different options or data).",
            "Give a new folder for --out, or repeat that run's exact command to resume it.",
        )
    if manifest.get("status") == "finished" and (out / MODEL).is_dir():
        raise TrainingError(
            f"“{out}” holds this run, already finished.",
            f"Its model is in {out / MODEL}; add --export-gguf TYPE to the same command to "
            "put it in the app, or give a new folder for --out to train again.",
        )
    return _last_complete_checkpoint(out / CHECKPOINTS)


def _last_complete_checkpoint(folder: Path) -> tuple[int, str | None]:
    """The newest checkpoint whose trainer state was written (the Trainer writes it last);
    a checkpoint cut short by a kill is removed."""
    if not folder.is_dir():
        return 0, None
    found = []
    for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        suffix = path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if path.is_dir() and suffix.isdigit():
            found.append((int(suffix), path))
    for step, path in sorted(found, reverse=True):
        if (path / TRAINER_STATE).is_file():
            return step, str(path)
        if distributed.is_main_process():
            log.warning("removing the incomplete checkpoint %s", path)
            shutil.rmtree(path, ignore_errors=True)
    return 0, None


def _manifest(config, data: TrainingData, plan: PrecisionPlan, batches, world: int) -> dict:
    return {
        "status": "running",
        "started_at": now(),
        "command": "huacaya-train",
        "arguments": config.to_dict(),
        "identity": config.run_identity(),
        "data": {"source": data.source, "files": data.files, "revision": data.revision},
        "data_sha256": data.sha256,
        "records": len(data.records),
        "precision": plan.to_dict(),
        "batches": batches.describe(),
        "world_size": world,
        "gradient_accumulation_steps": batches.accumulation,
        "versions": package_versions(),
        "git_revision": git_revision(),
        "hardware": hardware(),
        "environment": {
            key: os.environ[key]
            for key in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "ACCELERATE_MIXED_PRECISION")
            if key in os.environ
        },
    }
