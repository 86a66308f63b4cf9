"""Batches for the Trainer: Stanford's padded batches, and packed ones that compute the same loss.

Stanford pads each micro-batch to its longest example, so every padding position costs a full
forward and backward pass (and a projection onto the whole vocabulary). :class:`PackedCollator`
lays the same examples end to end instead, in sequences ("rows") of up to ``row_length`` tokens
(first-fit decreasing; the recipe's max length by default):

- position ids restart at 0 for each example; transformers (5.x) derives attention that never
  crosses examples from the restarting position ids: a block-diagonal mask for sdpa/eager
  (``masking_utils.find_packed_sequence_indices``, which needs ``use_cache=False``, as the
  Trainer sets it) and variable-length kernels for flash-attention (``_is_packed_sequence``,
  which only looks at a batch of one row: with flash-attention everything goes in one row, and
  its cost stays linear in the examples' lengths);
- the first label of every example is -100 (it is a prompt token anyway), so no example learns
  from the one before it; the few padding tokens at the end of a row form a sequence of their
  own and carry no loss;
- ``logits_to_keep`` (a boolean mask) keeps only the positions whose next token is trained, and
  ``shift_labels`` holds those next tokens: the vocabulary projection and cross-entropy are not
  spent on the prompt. The Trainer counts ``shift_labels`` for its token-weighted loss.

A micro-batch keeps the same examples either way, so optimizer steps, learning-rate schedule and
gradients are those of the recipe; only the tensor layout differs. Rows are capped because
sdpa/eager compute a masked attention over the whole row: one long row would cost more than the
padded batch it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from conversion.train.examples import IGNORE_INDEX
from conversion.train.speed import ModelFlops

REAL_TOKENS = "num_tokens"  # in each batch: tokens that are not padding (taken out before forward)
TRAINED = "trained_tokens"  # positions whose next token carries loss
PAIRS = "attention_pairs"  # Σ n² over the examples (for the attention FLOPs)


@dataclass
class TokenCounter:
    """Tokens trained on so far: real ones, the padded size of the tensors they came in, and
    the model FLOPs they cost (when ``flops`` is given: see :mod:`conversion.train.speed`)."""

    tokens: int = 0
    positions: int = 0
    model_flops: float = 0.0
    flops: ModelFlops | None = None

    @property
    def padding_fraction(self) -> float:
        return 1.0 - self.tokens / self.positions if self.positions else 0.0

    def count(self, batch: dict) -> None:
        """Count a padded batch (taking our counts out of it: the model must not see them) or a
        step of micro-batches (whose counts the collator made as plain numbers)."""
        if "micro_batches" in batch:
            tokens, positions = int(batch["num_tokens"]), int(batch["positions"])
            trained, pairs = int(batch["trained_tokens"]), int(batch["attention_pairs"])
        else:
            tokens = int(batch.pop(REAL_TOKENS))
            trained, pairs = int(batch.pop(TRAINED)), int(batch.pop(PAIRS))
            positions = batch["input_ids"].numel()
        self.tokens += tokens
        self.positions += positions
        if self.flops is not None:
            self.model_flops += self.flops.step(tokens, trained, pairs)


@dataclass
class PaddedCollator:
    """Stanford's ``DataCollatorForSupervisedDataset``: right padding to the longest example.

    The attention mask comes from the lengths, not from ``input_ids != pad`` as in Stanford's
    code, so a tokenizer whose pad token is its EOS (SmolLM2) does not hide the EOS tokens.
    """

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict:
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
        lengths = [len(f["input_ids"]) for f in features]
        return {
            "input_ids": input_ids,
            "labels": labels,
            "attention_mask": attention_mask,
            REAL_TOKENS: sum(lengths),
            TRAINED: int((labels[:, 1:] != IGNORE_INDEX).sum()),
            PAIRS: sum(n * n for n in lengths),
        }


def pack_rows(lengths: list[int], row_length: int | None) -> list[list[int]]:
    """Indices of the examples in each row, rows of at most ``row_length`` tokens (an example
    longer than that gets a row of its own); None: everything in one row.

    First-fit decreasing gives the fewest rows; the same number of rows filled longest-first
    into the emptiest row is often more even, so less padding: the better of the two is used."""
    if row_length is None:
        return [list(range(len(lengths)))]
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    first_fit: list[list[int]] = []
    room: list[int] = []
    for index in order:
        for row, free in enumerate(room):
            if lengths[index] <= free:
                first_fit[row].append(index)
                room[row] -= lengths[index]
                break
        else:
            first_fit.append([index])
            room.append(row_length - lengths[index])
    even: list[list[int]] = [[] for _ in first_fit]
    totals = [0] * len(first_fit)
    for index in order:
        row = totals.index(min(totals))
        even[row].append(index)
        totals[row] += lengths[index]
    longest_first_fit = max(row_length - free for free in room)
    if max(totals) <= max(row_length, *lengths) and max(totals) < longest_first_fit:
        return even
    return first_fit


@dataclass
class PackedCollator:
    """The micro-batch's examples end to end in rows, as described above."""

    pad_token_id: int = 0
    row_length: int | None = None  # None: one row (flash-attention)
    select_logits: bool = True  # False for models whose forward has no ``logits_to_keep``

    def __call__(self, features: list[dict]) -> dict:
        lengths = [len(f["input_ids"]) for f in features]
        rows = pack_rows(lengths, self.row_length)
        longest = max(sum(lengths[i] for i in row) for row in rows)
        ids, labels, positions = [], [], []
        for row in rows:
            row_ids: list[int] = []
            row_labels: list[int] = []
            row_positions: list[int] = []
            for index in row:
                feature = features[index]
                row_ids.extend(feature["input_ids"])
                row_labels.append(IGNORE_INDEX)
                row_labels.extend(feature["labels"][1:])
                row_positions.extend(range(lengths[index]))
            pad = longest - len(row_ids)
            ids.append(row_ids + [self.pad_token_id] * pad)
            labels.append(row_labels + [IGNORE_INDEX] * pad)
            positions.append(row_positions + list(range(pad)))  # a sequence of its own
        batch = {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "position_ids": torch.tensor(positions, dtype=torch.long),
            REAL_TOKENS: sum(lengths),
        }
        if self.select_logits:
            following = batch["labels"][:, 1:]
            keep = torch.zeros(batch["input_ids"].shape, dtype=torch.bool)
            keep[:, :-1] = following != IGNORE_INDEX
            batch["logits_to_keep"] = keep
            batch["shift_labels"] = following[keep[:, :-1]]
        return batch
