"""Win rates: counts per side, the Wilson 95% interval, and AlpacaEval 2's length control.

A pairwise outcome is a preference for the first side: 1 (it won), 0 (it lost) or 0.5 (a tie;
"both bad" is a tie too). The win rate is the mean preference, ties counting half, as
AlpacaEval reports it; its interval is Wilson's score interval on that proportion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (``successes`` may be fractional: ties count
    half). (0, 1) when there is nothing to go on."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Tally:
    """One side's record against the other."""

    name: str
    wins: int
    losses: int
    ties: int  # "both bad" included
    both_bad: int = 0

    @property
    def total(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def win_rate(self) -> float:
        return (self.wins + self.ties / 2) / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.wins + self.ties / 2, self.total)

    def describe(self) -> str:
        low, high = self.interval
        return (
            f"{self.name}: {self.wins} wins, {self.losses} losses, {self.ties} ties"
            + (f" ({self.both_bad} both bad)" if self.both_bad else "")
            + f" — win rate {self.win_rate:.1%} (95% CI {low:.1%}–{high:.1%})"
        )


def tallies(
    preferences: Sequence[float], names: tuple[str, str], both_bad: int = 0
) -> tuple[Tally, Tally]:
    """Both sides' tallies from the first side's preferences (1, 0.5, 0)."""
    wins = sum(1 for p in preferences if p == 1)
    losses = sum(1 for p in preferences if p == 0)
    ties = len(preferences) - wins - losses
    return (
        Tally(names[0], wins, losses, ties, both_bad),
        Tally(names[1], losses, wins, ties, both_bad),
    )


@dataclass(frozen=True)
class LengthControl:
    win_rate: float  # the first side's, read at equal length
    slope: float  # how much a longer answer sways the preference (per scaled length difference)
    intercept: float


def length_controlled(
    preferences: Sequence[float], first_lengths: Sequence[int], second_lengths: Sequence[int]
) -> LengthControl:
    """AlpacaEval 2's length-controlled win rate for two sides.

    A logistic regression of the preference for the first side on the difference of the answers'
    lengths, squashed as AlpacaEval does (``tanh(diff / std(diff))``): ``P(first wins) =
    σ(θ + φ·tanh(Δ/σ_Δ))``. The length-controlled win rate is the prediction at equal length,
    ``σ(θ)``. Ties are fractional targets (0.5). AlpacaEval's GLM also has an instruction
    difficulty term fitted across many models; with one pair of sides it is left out. φ gets a
    small L2 penalty (as sklearn's default), so a judge that only ever prefers the longer answer
    (separable data) has a finite fit. Fitted by Newton's method (a 2-parameter problem: numpy
    does it exactly, no solver library needed)."""
    y = np.asarray(preferences, dtype=float)
    if len(y) == 0:
        return LengthControl(0.5, 0.0, 0.0)
    diff = np.asarray(first_lengths, dtype=float) - np.asarray(second_lengths, dtype=float)
    scale = float(np.std(diff))
    x = np.tanh(diff / scale) if scale > 0 else np.zeros_like(diff)
    features = np.column_stack([np.ones_like(x), x])
    penalty = np.diag([0.0, 1.0])  # on the slope only: θ must stay free to be read
    weights = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(features @ weights)))
        gradient = features.T @ (p - y) + penalty @ weights
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    intercept, slope = float(weights[0]), float(weights[1])
    return LengthControl(1 / (1 + math.exp(-intercept)), slope, intercept)
