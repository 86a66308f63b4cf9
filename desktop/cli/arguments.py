"""Argument types shared by the ``huacaya`` subcommands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from desktop.core.settings import SAMPLING


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def sampling(option: str) -> Callable[[str], float]:
    """The type of an option that sets the sampling setting ``option``: a number within the
    range the app's own setting keeps to (``SAMPLING``), or a message saying which it is."""
    limit = SAMPLING[option]

    def parse(text: str) -> float:
        try:
            value = int(text) if limit.whole else float(text)
        except ValueError:
            value = math.nan
        if not limit.low <= value <= limit.high:
            raise argparse.ArgumentTypeError(f"must be {limit.bounds}, not {text}")
        return value

    parse.__name__ = option  # argparse names the type in its "invalid value" message
    return parse
