"""The Trainer that trains one optimizer step per batch of token-sized micro-batches.

With token budgets the Trainer's batch is a whole optimizer step (the recipe's examples, split
over the processes) and gradient accumulation is 1; :meth:`StepTrainer.training_step` runs the
step's micro-batches itself: gradients are synchronised on the last one only (DDP's and FSDP's
``no_sync``, DeepSpeed's accumulation boundary), and each micro-batch's summed loss is divided
by the step's trained tokens over all processes, so the step's gradient is the token-weighted
mean of the recipe. Sampling, the learning-rate schedule, clipping, checkpoints and resuming are
the Trainer's own. With ``--no-packing`` it is the plain Trainer on Stanford's padded batches.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from transformers import Trainer

from conversion.train import precision as precision_module
from conversion.train.packing import TokenCounter
from conversion.train.precision import PrecisionPlan


class StepTrainer(Trainer):
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
