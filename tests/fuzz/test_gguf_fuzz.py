"""Hundreds of damaged and hostile variants of the starter model, opened the way the app opens one.

Each variant must end in one of two ways: a clear refusal (a HuacayaError with a one-line
message naming the file) or a model that loads and answers. Never a traceback, an abort of this
process, a hang, a process left running or a file left behind. A seeded run; set
``HUACAYA_FUZZ_TRIES`` for a longer one (the figures in the notes come from 1,000).
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from pathlib import Path

import psutil
import pytest

from conversion.errors import HuacayaError, ModelLoadError
from conversion.gguf_file import read_gguf_info
from desktop.core import paths
from desktop.core.chat.engine import ChatEngine
from tests.conftest import greedy
from tests.fuzz.gguf_mutator import mutate, read_header, write

TRIES = int(os.environ.get("HUACAYA_FUZZ_TRIES", "200"))


def _open_like_the_app(path: Path) -> str:
    """What the window does with a file: check it, open it (probe first), answer once."""
    read_gguf_info(path)
    engine = ChatEngine(path, context_length=256, threads=1)
    try:
        engine.load()
        list(engine.stream([{"role": "user", "content": "Hi"}], greedy(2)))
    finally:
        engine.close()
    return "loaded"


def _children() -> set[str]:
    """Our child processes, but multiprocessing's resource tracker: it is shared by every
    spawned process of this one and ends with it."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" not in command:
            found.add(f"{child.pid} {command[:80]}")
    return found


def test_mutated_starter_models_are_refused_clearly_or_work(
    starter_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))  # every variant probed afresh
    base = read_header(starter_path)
    rng = random.Random(20261122)
    before = _children()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    variant = tmp_path / "variant.gguf"
    for attempt in range(TRIES):
        header, truncate_at = mutate(base, rng)
        write(header, starter_path, variant, truncate_at)
        if os.environ.get("HUACAYA_FUZZ_VERBOSE"):  # survives an abort of this process
            print(f"#{attempt} {header.notes}", file=sys.__stderr__, flush=True)
        try:
            outcomes[_open_like_the_app(variant)] += 1
        except ModelLoadError as exc:
            hung = "did not finish" in exc.message
            outcomes["hang (stopped)" if hung else "refused by llama.cpp in the child"] += 1
            if "\n" in exc.message or "Traceback" in exc.message or hung:
                failures.append(f"#{attempt} {header.notes}: {exc.message}")
        except HuacayaError as exc:
            outcomes["refused before llama.cpp"] += 1
            if "\n" in exc.message or variant.name not in exc.message:
                failures.append(f"#{attempt} {header.notes}: unclear message {exc.message!r}")
        except Exception as exc:  # what this test exists to catch
            outcomes["traceback"] += 1
            failures.append(f"#{attempt} {header.notes}: {type(exc).__name__}: {exc}")
        finally:
            variant.unlink(missing_ok=True)
    print(f"\n{TRIES} variants: {dict(outcomes)}")
    assert not failures, "\n".join(failures[:20])
    left = _children() - before
    assert not left, f"processes left running: {left}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"], "files left behind"
    # the run must exercise every path, not only the cheap refusals
    assert outcomes["refused before llama.cpp"] > TRIES / 4
    assert outcomes["refused by llama.cpp in the child"] >= 3
    assert outcomes["loaded"] >= 5
