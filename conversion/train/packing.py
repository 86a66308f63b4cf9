"""Batches for the Trainer: Stanford's padded batches, and packed ones that compute the same loss.

Stanford pads each micro-batch to its longest example, so every padding position costs a full
forward and backward pass (and a projection onto the whole vocabulary). :class:`PackedCollator`
lays the same examples end to end in one sequence instead:

- position ids restart at 0 for each example; transformers (5.x) derives attention that never
  crosses examples from the restarting position ids: a block-diagonal mask for sdpa/eager
  (``masking_utils.find_packed_sequence_indices``) and variable-length kernels for
  flash-attention (``_is_packed_sequence``, one sequence per batch);
- the first label of every example is -100 (it is a prompt token anyway), so no example learns
  from the one before it;
- ``logits_to_keep`` (a boolean mask) keeps only the positions whose next token is trained, and
  ``shift_labels`` holds those next tokens: the vocabulary projection and cross-entropy are not
  spent on the prompt. The Trainer counts ``shift_labels`` for its token-weighted loss.

A micro-batch keeps the same examples either way, so optimizer steps, learning-rate schedule and
gradients are those of the recipe; only the tensor layout differs. A packed sequence is never
longer than the padded batch it replaces (``per-device batch × max length`` tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from conversion.train.examples import IGNORE_INDEX


@dataclass
class TokenCounter:
    """Tokens trained on so far: real ones, and the padded size of the tensors they came in."""

    tokens: int = 0
    positions: int = 0

    @property
    def padding_fraction(self) -> float:
        return 1.0 - self.tokens / self.positions if self.positions else 0.0

    def count(self, batch: dict) -> None:  # type: ignore[type-arg]
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else ids.numel()
        self.positions += ids.numel()


@dataclass
class PaddedCollator:
    """Stanford's ``DataCollatorForSupervisedDataset``: right padding to the longest example.

    The attention mask comes from the lengths, not from ``input_ids != pad`` as in Stanford's
    code, so a tokenizer whose pad token is its EOS (SmolLM2) does not hide the EOS tokens.
    """

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:  # type: ignore[type-arg]
        longest = max(len(f["input_ids"]) for f in features)
        batch = len(features)
        input_ids = torch.full((batch, longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, longest), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((batch, longest), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.tensor(feature["input_ids"])
            labels[row, :n] = torch.tensor(feature["labels"])
            attention_mask[row, :n] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


@dataclass
class PackedCollator:
    """The micro-batch's examples end to end in one sequence, as described above."""

    select_logits: bool = True  # False for models whose forward has no ``logits_to_keep``

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:  # type: ignore[type-arg]
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for feature in features:
            n = len(feature["input_ids"])
            ids.extend(feature["input_ids"])
            labels.append(IGNORE_INDEX)
            labels.extend(feature["labels"][1:])
            positions.extend(range(n))
        batch = {
            "input_ids": torch.tensor([ids], dtype=torch.long),
            "labels": torch.tensor([labels], dtype=torch.long),
            "position_ids": torch.tensor([positions], dtype=torch.long),
        }
        if self.select_logits:
            following = batch["labels"][0, 1:]
            keep = torch.zeros((1, len(ids)), dtype=torch.bool)
            keep[0, :-1] = following != IGNORE_INDEX
            batch["logits_to_keep"] = keep
            batch["shift_labels"] = following[keep[0, :-1]]
        return batch
