from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core import paths
from desktop.core import settings as store


def test_defaults_when_no_file() -> None:
    loaded = store.load()
    assert loaded == store.Settings()


def test_round_trip_and_atomic_save(huacaya_home: Path) -> None:
    value = store.Settings(context_length=2048, threads=3)
    value.generation.temperature = 0.2
    store.save(value)
    assert store.load() == value
    folder = paths.settings_file().parent
    assert [p.name for p in folder.iterdir()] == ["settings.json"]  # no temporary left over


def test_damaged_file_is_kept_aside_and_defaults_used() -> None:
    path = paths.settings_file()
    path.write_text("{ not json", encoding="utf-8")
    assert store.load() == store.Settings()
    kept = list(path.parent.glob("settings.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{ not json"


def test_ill_typed_values_fall_back_per_key_and_values_are_clamped() -> None:
    raw = {"context_length": "big", "threads": 4, "generation": {"temperature": 99, "top_k": 5}}
    paths.settings_file().write_text(json.dumps(raw), encoding="utf-8")
    loaded = store.load()
    assert loaded.context_length == store.Settings().context_length
    assert loaded.threads == 4
    assert loaded.generation.temperature == 5.0
    assert loaded.generation.top_k == 5


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "data.json"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(paths.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        paths.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
