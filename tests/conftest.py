"""Shared fixtures: a private HUACAYA_HOME per test, offscreen Qt, the real starter model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop.core.engine import ChatEngine
from desktop.core.settings import GenerationSettings
from desktop.core.starter import starter_model_path

FRANCE = "What is the capital of France?"


def greedy(max_tokens: int = 64) -> GenerationSettings:
    return GenerationSettings(temperature=0.0, max_tokens=max_tokens, seed=1)


@pytest.fixture(autouse=True)
def huacaya_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "huacaya-home"
    monkeypatch.setenv("HUACAYA_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def starter_path() -> Path:
    return starter_model_path()


@pytest.fixture(scope="session")
def engine(starter_path: Path) -> Iterator[ChatEngine]:
    """One loaded starter model for the whole session (used from the main thread only)."""
    chat_engine = ChatEngine(starter_path, context_length=2048)
    chat_engine.load()
    yield chat_engine
    chat_engine.close()
