"""The Trainer callback that reports a run: progress (steps, loss, tokens/s, time left) through
Huacaya's ``progress`` callable, ``metrics.csv`` rows, and cancellation through a CancelToken."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import TrainerCallback

from conversion.progress import CancelToken, Progress, duration_text
from conversion.train.packing import TokenCounter
from conversion.train.run_record import MetricRow, MetricsFile
from conversion.train.speed import peak_memory_gib


@dataclass
class TrainStatus:
    """The figures of the latest optimizer step (all processes together)."""

    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    seconds_left: float
    epoch: float
    mfu: float | None = None  # model FLOPs utilisation (None where the peak is unknown: CPUs)
    peak_memory_gib: float | None = None
    step_seconds: float | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    def message(self) -> str:
        left = duration_text(self.seconds_left)
        speed = f"{self.tokens_per_second:,.0f} tokens/s"
        if self.mfu is not None:
            speed += f" · MFU {self.mfu:.0%}"
        if self.peak_memory_gib is not None:
            speed += f" · {self.peak_memory_gib:.1f} GiB"
        return f"step {self.step}/{self.total_steps} · loss {self.loss:.4f} · {speed} · {left} left"


def _all_processes_sum(*values: float) -> list[float]:
    """Sums over the processes (one collective per optimizer step)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        total = torch.tensor(values, dtype=torch.float64)
        if torch.distributed.get_backend() == "nccl":
            total = total.cuda()
        torch.distributed.all_reduce(total)
        return [float(v) for v in total.tolist()]
    return [float(v) for v in values]


class ReportingCallback(TrainerCallback):
    def __init__(
        self,
        counter: TokenCounter,
        metrics: MetricsFile | None,  # None on processes other than the first
        progress: Progress,
        cancel: CancelToken,
        on_status: Callable[[TrainStatus], None] | None = None,
        peak_tflops: float | None = None,  # per device, for the compute precision
        on_begin: Callable[[int], None] | None = None,  # called with the run's total steps
    ) -> None:
        self.on_begin = on_begin
        self.counter = counter
        self.metrics = metrics
        self.progress = progress
        self.cancel = cancel
        self.on_status = on_status
        self.cancelled_at: int | None = None
        self._tokens_before = 0
        self._step_started = 0.0
        self._session_started = 0.0
        self._session_first_step = 0
        self._tokens_per_second = 0.0
        self.peak_tflops = peak_tflops
        self._flops_before = 0.0
        self._mfu: float | None = None
        self._step_seconds = 0.0
        self._seconds: list[float] = []
        self._mfus: list[float] = []
        self._speeds: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if self.metrics is not None:
            self.metrics.load(state.global_step)
        tokens, flops = _all_processes_sum(self.counter.tokens, self.counter.model_flops)
        self._tokens_before, self._flops_before = tokens, flops
        self._session_started = self._step_started = time.perf_counter()
        self._session_first_step = state.global_step
        if self.on_begin is not None:
            self.on_begin(state.max_steps)
        self.progress(
            state.global_step / state.max_steps if state.max_steps else 0.0,
            f"step {state.global_step}/{state.max_steps} · starting",
        )

    def on_step_end(self, args, state, control, **kwargs):
        tokens, flops = _all_processes_sum(self.counter.tokens, self.counter.model_flops)
        now = time.perf_counter()
        elapsed = max(now - self._step_started, 1e-9)
        self._tokens_per_second = (tokens - self._tokens_before) / elapsed
        self._mfu = None
        if self.peak_tflops and flops > self._flops_before:
            devices = max(args.world_size, 1)
            self._mfu = (flops - self._flops_before) / elapsed / (self.peak_tflops * 1e12 * devices)
        self._step_seconds = elapsed
        self._tokens_before, self._flops_before, self._step_started = tokens, flops, now
        self._seconds.append(elapsed)
        self._speeds.append(self._tokens_per_second)
        if self._mfu is not None:
            self._mfus.append(self._mfu)
        return self._stop_if_cancelled(state, control)

    def summary(self) -> dict[str, float | None]:
        """For the manifest: medians over this session's steps after the first (warm-up)."""

        def median(values: list[float]) -> float | None:
            timed = sorted(values[1:] or values)
            return timed[len(timed) // 2] if timed else None

        mfu = median(self._mfus)
        return {
            "seconds_per_step": median(self._seconds),
            "tokens_per_second": median(self._speeds),
            "mfu": round(mfu, 4) if mfu is not None else None,
            "peak_memory_gib": round(peak_memory_gib(), 2),
            "peak_tflops": self.peak_tflops,
        }

    def _stop_if_cancelled(self, state, control):
        """Cancel takes effect between optimizer steps: the step is saved as a checkpoint, so
        the same command resumes from it."""
        if self.cancel.cancelled and self.cancelled_at is None:
            self.cancelled_at = state.global_step
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return control
        steps_done = state.global_step - self._session_first_step
        per_step = (time.perf_counter() - self._session_started) / max(steps_done, 1)
        status = TrainStatus(
            step=state.global_step,
            total_steps=state.max_steps,
            loss=float(logs["loss"]),
            learning_rate=float(logs.get("learning_rate", 0.0)),
            tokens_per_second=self._tokens_per_second,
            seconds_left=per_step * (state.max_steps - state.global_step),
            epoch=float(state.epoch or 0.0),
            mfu=self._mfu,
            peak_memory_gib=peak_memory_gib(),
            step_seconds=self._step_seconds,
        )
        if self.metrics is not None:
            self.metrics.add(
                MetricRow(
                    status.step,
                    status.loss,
                    status.learning_rate,
                    status.tokens_per_second,
                    status.epoch,
                    status.mfu,
                    status.peak_memory_gib,
                    status.step_seconds,
                )
            )
        self.progress(status.fraction, status.message())
        if self.on_status is not None:
            self.on_status(status)
        return self._stop_if_cancelled(state, control)  # the save below this log sees it
