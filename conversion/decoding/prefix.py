"""Which prompt tokens need not be evaluated again, or not once per sequence.

Pure functions over token lists, kept apart from llama.cpp so they can be tested on their own.
A prompt's last token is always evaluated for its own sequence: its logits give the first token.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


@dataclass(frozen=True)
class SharedRun:
    """Prompt positions ``[begin, end)`` that the sequences ``members`` have in common, to be
    evaluated once for all of them."""

    members: tuple[Hashable, ...]
    begin: int
    end: int


def shared_runs(prompts: dict[Hashable, tuple[int, Sequence[int]]]) -> list[SharedRun]:
    """The runs that prompts starting together can share, parents before children.

    ``prompts`` maps a sequence to ``(start, tokens)``: its cache already holds ``tokens[:start]``.
    Only sequences whose caches hold the same tokens (same ``start``, same tokens before it) can
    share what follows, position by position, as long as their prompts agree: a prefix tree.
    """
    histories: dict[tuple[int, tuple[int, ...]], list[Hashable]] = {}
    for key, (start, tokens) in prompts.items():
        histories.setdefault((start, tuple(tokens[:start])), []).append(key)
    runs: list[SharedRun] = []

    def split(members: list[Hashable], begin: int) -> None:
        if len(members) < 2:
            return
        rows = [prompts[m][1] for m in members]
        limit = min(len(row) - 1 for row in rows)  # the last token is each one's own
        end = begin
        while end < limit and all(row[end] == rows[0][end] for row in rows):
            end += 1
        if end > begin:
            runs.append(SharedRun(tuple(members), begin, end))
        branches: dict[int, list[Hashable]] = {}
        for member, row in zip(members, rows, strict=True):
            if end < len(row) - 1:
                branches.setdefault(row[end], []).append(member)
        for branch in branches.values():
            split(branch, end)

    for (start, _), members in histories.items():
        split(members, start)
    return runs
