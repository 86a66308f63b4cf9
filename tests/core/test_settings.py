from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion import output
from desktop.core import paths
from desktop.core import settings as store


def test_defaults_when_no_file() -> None:
    loaded = store.load()
    assert loaded == store.Settings()


def test_round_trip_and_atomic_save(huacaya_home: Path) -> None:
    owner = store.SettingsStore()
    generation = store.GenerationSettings(temperature=0.2)
    owner.update(context_length=2048, threads=3, generation=generation)
    loaded = store.load()
    assert (loaded.context_length, loaded.threads, loaded.generation) == (2048, 3, generation)
    folder = paths.settings_file().parent
    assert [p.name for p in folder.iterdir()] == ["settings.json"]  # no temporary left over


def test_subscribers_hear_what_changed_and_unknown_settings_are_refused() -> None:
    owner = store.SettingsStore()
    heard: list[set[str]] = []
    unsubscribe = owner.subscribe(heard.append)
    owner.update(theme="dark", font_size=14)
    owner.update(theme="dark")  # no change, no news
    unsubscribe()
    owner.update(theme="light")
    assert heard == [{"theme", "font_size"}]
    with pytest.raises(AttributeError, match="colour"):
        owner.update(colour="red")


def test_two_owners_do_not_undo_each_others_changes() -> None:
    window, terminal = store.SettingsStore(), store.SettingsStore()
    terminal.update(offline=False)  # e.g. `huacaya models pull` while the window is open
    window.update(theme="dark")  # the window saves later, from its older copy
    on_disk = store.load()
    assert (on_disk.offline, on_disk.theme) == (False, "dark")


def test_a_newer_settings_file_is_used_but_never_written_over() -> None:
    path = paths.settings_file()
    newer = {"schema_version": store.SCHEMA_VERSION + 1, "theme": "dark", "new_thing": [1, 2]}
    path.write_text(json.dumps(newer), encoding="utf-8")
    owner = store.SettingsStore()
    assert owner.read_only and "newer version" in owner.notice
    assert owner.settings.theme == "dark"  # what is understood is used
    owner.update(theme="light")
    assert owner.settings.theme == "light"  # for this session…
    assert json.loads(path.read_text(encoding="utf-8")) == newer  # …but the file is untouched


def test_a_failed_save_is_a_settings_error(monkeypatch) -> None:
    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "atomic_write_text", full_disk)
    with pytest.raises(store.SettingsError, match="No space left"):
        store.SettingsStore().update(theme="dark")


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
    assert loaded.generation.temperature == store.SAMPLING["temperature"].high
    assert loaded.generation.top_k == 5


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "data.json"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        output.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]
