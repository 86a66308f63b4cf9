"""Real broken and altered model files, made from the starter model; settings a user may have."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conversion import cpu_threads
from desktop.core import settings as settings_store
from desktop.core.settings import GenerationSettings


def greedy_by_default(home: Path, max_tokens: int = 64) -> None:
    """Settings in ``home`` (a HUACAYA_HOME) of a user who chose pure greedy decoding, as the
    tests' references use (tests/scoring.py)."""
    settings_store.SettingsStore(home / "config" / "settings.json").update(
        generation=GenerationSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=max_tokens)
    )


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(src.read(int(source.stat().st_size * fraction)))
    return target


def text_file_named_gguf(target: Path) -> Path:
    target.write_text("This is a shopping list, not a model.\n" * 20, encoding="utf-8")
    return target


def copy_with_renamed_key(source: Path, target: Path, key: bytes, new_key: bytes) -> Path:
    """Copy a GGUF, renaming one metadata key in place (same length keeps the file valid)."""
    assert len(key) == len(new_key)
    shutil.copyfile(source, target)
    with target.open("r+b") as handle:
        head = handle.read(8 * 1024 * 1024)  # metadata lives at the start
        offset = head.index(key)
        handle.seek(offset)
        handle.write(new_key)
    return target


def without_chat_template(source: Path, target: Path) -> Path:
    return copy_with_renamed_key(
        source, target, b"tokenizer.chat_template", b"tokenizer.chat_templatX"
    )


def with_architecture(source: Path, target: Path, architecture: bytes) -> Path:
    """Copy a GGUF, overwriting its architecture string (same length as the original)."""
    shutil.copyfile(source, target)
    key = b"general.architecture"
    with target.open("r+b") as handle:
        head = handle.read(1024 * 1024)
        start = head.index(key) + len(key) + 4 + 8  # value type (u32), string length (u64)
        length = int.from_bytes(head[start - 8 : start], "little")
        assert length == len(architecture)
        handle.seek(start)
        handle.write(architecture)
    return target


def another_program_takes_two_of_three_cores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A machine of 3 idle cores (a job chosen from them takes 3 threads) whose load then
    changes: every look of a ThreadWatch answers 1 thread. Returns the threads each look saw."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpu_threads, "usable_cores", lambda: 3)
    monkeypatch.setattr(cpu_threads, "idle_cores", lambda: 3.0)
    looked: list[int] = []

    def one_thread_left(watch: cpu_threads.ThreadWatch) -> int:
        looked.append(watch.threads)
        return 1

    monkeypatch.setattr(cpu_threads.ThreadWatch, "check", one_thread_left)
    return looked
