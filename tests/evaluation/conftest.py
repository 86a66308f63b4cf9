"""Fixtures: the Self-Instruct user-oriented set and text-davinci-003's answers beside the
checkout (evaluation data: read by tests, never trained on, never shipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

ALPACA = Path(__file__).resolve().parents[2].parent / "shared" / "alpaca"


def _shared(name: str) -> Path:
    path = ALPACA / name
    if not path.is_file():
        pytest.skip(f"the evaluation set ../shared/alpaca/{name} is not beside this checkout")
    return path


@pytest.fixture(scope="session")
def user_oriented() -> Path:
    return _shared("user_oriented_instructions.jsonl")


@pytest.fixture(scope="session")
def davinci() -> Path:
    return _shared("text-davinci-003_predictions.jsonl")
