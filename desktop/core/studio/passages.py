"""The order in which a collection's passages are asked about: spread over its files and over
each file, so that the first N passages cover the documents rather than one file's start."""

from __future__ import annotations

from collections.abc import Sequence


def spread_positions(n: int) -> list[int]:
    """0 … n-1, each prefix spread over the range: 0, n/2, n/4, 3n/4, … (van der Corput's
    sequence in base 2, scaled to n; positions it lands on twice are taken once)."""
    order: list[int] = []
    seen: set[int] = set()
    j = 0
    while len(order) < n:
        x, base, k = 0.0, 0.5, j
        while k:
            if k & 1:
                x += base
            k >>= 1
            base /= 2
        position = int(x * n)
        if position not in seen:
            seen.add(position)
            order.append(position)
        j += 1
        if j > 4 * n + 64:  # every position is reached long before; a guard all the same
            order += [i for i in range(n) if i not in seen]
            break
    return order


def spread_order(files: Sequence[Sequence[int]]) -> list[int]:
    """Every id of ``files`` (each file's ids in reading order): one from each file in turn,
    each file's own taken spread over it."""
    spread = [[ids[i] for i in spread_positions(len(ids))] for ids in files]
    order: list[int] = []
    for turn in range(max((len(ids) for ids in spread), default=0)):
        order += [ids[turn] for ids in spread if turn < len(ids)]
    return order
