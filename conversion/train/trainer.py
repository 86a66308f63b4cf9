"""The Trainer that trains one optimizer step per batch of token-sized micro-batches.

With token budgets the Trainer's batch is a whole optimizer step (the recipe's examples, split
over the processes) and gradient accumulation is 1; :meth:`StepTrainer.training_step` runs the
step's micro-batches itself: gradients are synchronised on the last one only (DDP's and FSDP's
``no_sync``, DeepSpeed's accumulation boundary), and each micro-batch's summed loss is divided
by the step's trained tokens over all processes, so the step's gradient is the token-weighted
mean of the recipe. Sampling, clipping, checkpoints and resuming are the Trainer's own. With
``--no-packing`` it is the plain Trainer on Stanford's padded batches.

The learning-rate schedule is the Trainer's (Stanford's cosine with a 3% warm-up), but for its
first step. transformers' warm-up starts at 0: step 1 of every run trains nothing, which in a
``--max-steps 2`` run is half the run, and a ratio of 3% of two steps still rounds up to a whole
step of warm-up. So the warm-up's W steps ramp from 1/(W+1) of the peak to W/(W+1), and the
decay after it is unchanged: :meth:`StepTrainer.create_scheduler`. A full Alpaca run (37 warm-up
steps) starts at 1/38 of the peak instead of 0; a two-step run trains at half the peak, then
at the peak.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, get_scheduler

from conversion.train import precision as precision_module
from conversion.train.packing import TokenCounter
from conversion.train.precision import PrecisionPlan


class StepTrainer(Trainer):
    lr_scheduler: Any  # the Trainer's, or ours (create_scheduler)

    def __init__(
        self,
        *args,
        counter: TokenCounter,
        plan: PrecisionPlan,
        lean: bool = False,
        fsdp: bool = False,
        **kwargs,
    ) -> None:
        self.counter = counter
        self.plan = plan
        self.lean = lean
        self.fsdp_mixed = fsdp and plan.mixed != "fp32"
        super().__init__(*args, **kwargs)

    # -- precision ---------------------------------------------------------------------------

    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        plugin = getattr(self.accelerator.state, "fsdp_plugin", None)
        if self.fsdp_mixed and plugin is not None:
            # accelerate reduces gradients in bf16 by default; Stanford's FSDP run reduced in fp32
            from torch.distributed.fsdp import MixedPrecisionPolicy

            plugin.mixed_precision_policy = MixedPrecisionPolicy(
                param_dtype=self.plan.compute_dtype, reduce_dtype=torch.float32
            )

    def create_optimizer(self, model=None):
        if self.lean and self.optimizer is None:
            self.optimizer = precision_module.lean_optimizer(
                self.model, self.args.learning_rate, self.args.weight_decay, self.args
            )
            return self.optimizer
        return super().create_optimizer(model) if model is not None else super().create_optimizer()

    # -- the learning rate ------------------------------------------------------------------

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """The Trainer's schedule with a warm-up whose every step trains (the module's docstring
        says why); schedules without a warm-up are the Trainer's own."""
        if self.lr_scheduler is None:
            optimizer = optimizer if optimizer is not None else self.optimizer
            warmup = self.args.get_warmup_steps(num_training_steps)
            schedule = warm_up_from_the_first_step(
                optimizer,
                self.args.lr_scheduler_type,
                warmup,
                num_training_steps,
                self.args.lr_scheduler_kwargs,
            )
            if schedule is not None:
                self.lr_scheduler = schedule
                self._created_lr_scheduler = True
        return super().create_scheduler(num_training_steps, optimizer)

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        return 0  # the counter counts model FLOPs from the examples' real lengths

    # -- one optimizer step ------------------------------------------------------------------

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.counter.count(inputs)
        if "micro_batches" not in inputs:  # Stanford's padded batches: the Trainer's own step
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        if hasattr(self.optimizer, "train") and callable(self.optimizer.train):
            self.optimizer.train()
        inputs = self._prepare_inputs(inputs)
        world = self.accelerator.num_processes
        scale = world / self._all_trained_tokens(inputs["trained_tokens"])
        deepspeed = self.is_deepspeed_enabled
        state = self.accelerator.gradient_state
        micro_batches = inputs["micro_batches"]
        total = torch.zeros((), dtype=torch.float32, device=self.args.device)
        for index, batch in enumerate(micro_batches):
            last = index == len(micro_batches) - 1
            state._set_sync_gradients(last)  # DeepSpeed's accumulation boundary
            quiet = last or deepspeed
            context = contextlib.nullcontext() if quiet else self.accelerator.no_sync(model)
            with context:
                with self.compute_loss_context_manager():
                    loss = model(**batch) * scale
                extra = {"scale_wrt_gas": False} if deepspeed else {}
                self.accelerator.backward(loss, **extra)
            total += loss.detach()
        state._set_sync_gradients(True)
        return total

    def _all_trained_tokens(self, local: int):
        """The step's trained tokens over every process (a collective, never a host read)."""
        if self.accelerator.num_processes == 1:
            return max(local, 1)
        count = torch.tensor(float(local), device=self.args.device)
        torch.distributed.all_reduce(count)
        return count.clamp_min(1.0)


def warm_up_from_the_first_step(
    optimizer, name: str, warmup: int, total: int, kwargs: dict[str, Any] | None = None
) -> LambdaLR | None:
    """transformers' schedule ``name`` whose ``warmup`` steps ramp from 1/(warmup+1) of the
    peak instead of from 0, the decay after them unchanged: its schedule of one more warm-up
    step over one more step, read from that schedule's second step. None without a warm-up (or
    for a schedule that is not a function of the step)."""
    if warmup <= 0:
        return None
    longer = get_scheduler(
        name,
        optimizer=optimizer,
        num_warmup_steps=warmup + 1,
        num_training_steps=total + 1,
        scheduler_specific_kwargs=kwargs or {},
    )
    if not isinstance(longer, LambdaLR):
        return None
    return LambdaLR(optimizer, [_one_step_on(factor) for factor in longer.lr_lambdas])


def _one_step_on(factor):
    return lambda step: factor(step + 1)
