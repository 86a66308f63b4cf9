"""Recover Alpaca-7B from Stanford's released weight diff and raw LLaMA-7B (HF format).

Stanford released ``tuned − raw`` so that the tuned weights are ``raw + diff``. As in their
``weight_diff.py``, the raw model first gets the ``[PAD]`` token the recipe added: its new
embedding rows (input and output) are the mean of the existing rows. Their integrity check
sums every recovered weight; for Alpaca-7B the sum is ≈ 50637.1836.
"""

from __future__ import annotations

import numpy as np

from conversion.errors import CheckpointError

ALPACA_7B_SUM = 50637.1836
# The release checks with PyTorch float32 sums (atol 1e-2); ours sums in float64, whose
# rounding differs, so a slightly wider tolerance. Wrong base weights miss by far more.
SUM_TOLERANCE = 0.1
_RESIZED = ("embed_tokens.weight", "lm_head.weight")


class RecoveredFromDiff:
    def __init__(self, diff, raw, expected_sum: float | None = None) -> None:
        self.diff = diff
        self.raw = raw
        self.expected_sum = ALPACA_7B_SUM if expected_sum is None else expected_sum
        self.total = 0.0
        self.summed: set[str] = set()
        raw_names = set(raw.names())
        missing = [n for n in diff.names() if n not in raw_names]
        if missing:
            raise CheckpointError(
                f"The raw LLaMA folder lacks {len(missing)} tensors of the diff (first: "
                f"{missing[0]}).",
                "Pass the LLaMA-7B folder in Hugging Face format that the diff was made from.",
            )

    def names(self) -> list[str]:
        return self.diff.names()

    def shape(self, name: str) -> tuple[int, ...]:
        return self.diff.shape(name)

    def dtype(self, name: str) -> str:
        return self.diff.dtype(name)

    def _raw_resized(self, name: str) -> np.ndarray:
        raw = self.raw.float32(name)
        target = self.diff.shape(name)
        if raw.shape == tuple(target):
            return raw
        grows = raw.shape[1:] == tuple(target[1:]) and raw.shape[0] < target[0]
        if name.endswith(_RESIZED) and grows:
            added = target[0] - raw.shape[0]
            mean = raw.mean(axis=0, dtype=np.float64, keepdims=True).astype(np.float32)
            return np.concatenate([raw, np.repeat(mean, added, axis=0)], axis=0)
        raise CheckpointError(
            f"Tensor {name} is {list(raw.shape)} in the raw model but {list(target)} in the diff.",
            "The diff belongs to another base model (Alpaca-7B needs LLaMA-7B).",
        )

    def float32(self, name: str) -> np.ndarray:
        recovered = self.diff.float32(name) + self._raw_resized(name)
        if name not in self.summed:
            self.summed.add(name)
            self.total += float(recovered.sum(dtype=np.float64))
        return recovered

    def integrity(self) -> dict[str, float | bool]:
        return {
            "sum": self.total,
            "expected": self.expected_sum,
            "passed": abs(self.total - self.expected_sum) <= SUM_TOLERANCE,
        }
