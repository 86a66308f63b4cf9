"""Batches sized by tokens: one optimizer step's examples in as few micro-batches as a budget of
tokens allows.

The Trainer hands :class:`StepCollator` all of a step's examples (the recipe's 128, split over
the processes); it lays them out in micro-batches of at most ``tokens_per_micro_batch`` tokens
(padding included), on the CPU, in a data-loader worker ahead of the GPU. Every micro-batch
carries, besides the tokens:

- ``position_ids`` restarting at 0 for each example, and ``document_ids`` numbering the examples,
  from which attention is confined to each example (see :mod:`conversion.train.attention`);
- ``target_index``: the flat positions whose next token is trained (a response token or the
  EOS), and ``targets``: those tokens. Only these positions reach the vocabulary projection and
  the loss, and every count the loss needs is known here, so the GPU never waits on the host.

Two layouts, chosen by the attention implementation:

- ``one_row``: every example of the micro-batch end to end in one row (flash-attention's
  variable-length kernels and FlexAttention skip the masked blocks, so the cost stays linear in
  the examples' lengths); the row is padded to a multiple of 128 tokens (FlexAttention's block);
- ``rows``: examples packed into rows of at most ``row_length`` tokens (first-fit decreasing),
  the rows stacked into micro-batches; for sdpa/eager, whose masked attention costs the square
  of the row length.

An example longer than the budget gets a micro-batch of its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from conversion.train.examples import IGNORE_INDEX
from conversion.train.packing import pack_rows

ONE_ROW = "one_row"
ROWS = "rows"
BLOCK = 128  # FlexAttention's block size; one-row micro-batches are padded to a multiple of it


def plan_micro_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices of the examples in each micro-batch: first-fit decreasing into bins of ``budget``
    tokens (the fewest bins in practice), then each bin in its original order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    room: list[int] = []
    for index in order:
        for b, free in enumerate(room):
            if lengths[index] <= free:
                bins[b].append(index)
                room[b] -= lengths[index]
                break
        else:
            bins.append([index])
            room.append(budget - lengths[index])
    return [sorted(b) for b in bins]


def _rows_into_micro_batches(rows: list[list[int]], lengths: list[int], budget: int) -> list:
    """Stack packed rows into micro-batches whose padded size (rows × longest) fits ``budget``."""
    sized = sorted(rows, key=lambda row: -sum(lengths[i] for i in row))
    groups: list[list[list[int]]] = []
    for row in sized:
        size = sum(lengths[i] for i in row)
        if groups:
            group = groups[-1]
            longest = max(sum(lengths[i] for i in r) for r in group)  # rows come longest first
            if (len(group) + 1) * max(longest, size) <= budget:
                group.append(row)
                continue
        groups.append([row])
    return groups


@dataclass
class StepCollator:
    """A step's examples → ``{"micro_batches": [...], "trained_tokens": n, ...}``."""

    pad_token_id: int
    tokens_per_micro_batch: int
    layout: str = ROWS
    row_length: int = 512

    def __call__(self, features: list[dict]) -> dict:
        lengths = [len(f["input_ids"]) for f in features]
        if self.layout == ONE_ROW:
            groups = [[b] for b in plan_micro_batches(lengths, self.tokens_per_micro_batch)]
        else:
            rows = pack_rows(lengths, self.row_length)
            groups = _rows_into_micro_batches(rows, lengths, self.tokens_per_micro_batch)
        micro_batches = [self._micro_batch(features, group) for group in groups]
        positions = sum(int(m["input_ids"].numel()) for m in micro_batches)
        return {
            "micro_batches": micro_batches,
            "trained_tokens": sum(int(m["targets"].numel()) for m in micro_batches),
            "num_tokens": sum(lengths),
            "positions": positions,
            "attention_pairs": sum(n * n for n in lengths),  # for the model FLOPs
        }

    def _micro_batch(self, features: list[dict], rows: list[list[int]]) -> dict:
        built = []
        for row in rows:
            ids: list[int] = []
            positions: list[int] = []
            documents: list[int] = []
            targets: list[tuple[int, int]] = []  # (position in row, token)
            for document, index in enumerate(row):
                feature = features[index]
                start = len(ids)
                labels = feature["labels"]
                ids.extend(feature["input_ids"])
                positions.extend(range(len(labels)))
                documents.extend([document] * len(labels))
                # position p predicts token p + 1 of its own example
                targets.extend(
                    (start + p, label)
                    for p, label in enumerate(labels[1:])
                    if label != IGNORE_INDEX
                )
            built.append((ids, positions, documents, targets))
        width = max(len(ids) for ids, *_ in built)
        if self.layout == ONE_ROW:
            width = -(-width // BLOCK) * BLOCK
        input_ids = torch.full((len(built), width), self.pad_token_id, dtype=torch.long)
        position_ids = torch.zeros((len(built), width), dtype=torch.long)
        document_ids = torch.zeros((len(built), width), dtype=torch.int32)
        target_index: list[int] = []
        target_tokens: list[int] = []
        for r, (ids, positions, documents, targets) in enumerate(built):
            n = len(ids)
            pad = width - n
            input_ids[r, :n] = torch.tensor(ids)
            # the padding is a sequence of its own: it attends only to itself, carries no loss
            position_ids[r] = torch.tensor(positions + list(range(pad)))
            last = (documents[-1] + 1) if documents else 0
            document_ids[r] = torch.tensor(documents + [last] * pad, dtype=torch.int32)
            target_index.extend(r * width + p for p, _ in targets)
            target_tokens.extend(token for _, token in targets)
        batch = {
            "input_ids": input_ids,
            "position_ids": position_ids,
            "document_ids": document_ids,
            "target_index": torch.tensor(target_index, dtype=torch.long),
            "targets": torch.tensor(target_tokens, dtype=torch.long),
        }
        if self.layout == ONE_ROW:
            batch.update(one_row_attention(document_ids[0]))
        return batch


def one_row_attention(document_ids: torch.Tensor) -> dict:
    """What the variable-length kernels need, computed here on the CPU: flash-attention's
    cumulative sequence lengths and longest sequence, and FlexAttention's block tables for a
    causal mask inside each document (which blocks are partly or fully visible to each query
    block), so neither is derived on the GPU with a host round trip."""
    docs = document_ids.tolist()
    total = len(docs)
    starts = [0] + [i for i in range(1, total) if docs[i] != docs[i - 1]]
    bounds = [*starts, total]
    lengths = [b - a for a, b in itertools.pairwise(bounds)]
    blocks = total // BLOCK
    first = [docs[b * BLOCK] for b in range(blocks)]
    last = [docs[b * BLOCK + BLOCK - 1] for b in range(blocks)]
    start_of = {docs[s]: s for s in starts}
    partial = torch.zeros((1, 1, blocks, blocks), dtype=torch.int32)
    full = torch.zeros((1, 1, blocks, blocks), dtype=torch.int32)
    partial_count = torch.zeros((1, 1, blocks), dtype=torch.int32)
    full_count = torch.zeros((1, 1, blocks), dtype=torch.int32)
    for q in range(blocks):
        lowest = start_of[first[q]] // BLOCK
        p = f = 0
        for k in range(lowest, q + 1):
            if k < q and first[q] == last[q] == first[k] == last[k]:
                full[0, 0, q, f] = k
                f += 1
            else:
                partial[0, 0, q, p] = k
                p += 1
        partial_count[0, 0, q], full_count[0, 0, q] = p, f
    return {
        "cu_seq_lens": torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32),
        "max_length": max(lengths),
        "kv_num_blocks": partial_count,
        "kv_indices": partial,
        "full_kv_num_blocks": full_count,
        "full_kv_indices": full,
    }
