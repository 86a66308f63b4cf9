"""Argument types shared by the ``huacaya`` subcommands."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value
