"""Presets: the built-in ones, reading and checking preset files (one clear line per problem),
the store of the user's own (saved atomically, built-in ones kept), and a chat that uses one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.errors import PresetError
from desktop.core.chat.preset_store import PresetStore
from desktop.core.chat.presets import (
    BUILTIN_PRESETS,
    Preset,
    parse_presets,
    presets_json,
    shown_name,
)
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import History
from desktop.core.settings import SAMPLING, GenerationSettings


def test_the_built_in_presets_are_valid_and_survive_export_and_import() -> None:
    names = [p.name for p in BUILTIN_PRESETS]
    assert names[0] == "Default" and {"Precise", "Creative", "Concise"} <= set(names)
    assert BUILTIN_PRESETS[0].sampling == {} and BUILTIN_PRESETS[0].system_prompt == ""
    for preset in BUILTIN_PRESETS:
        assert preset.description
        for key, value in preset.sampling.items():
            assert SAMPLING[key].low <= value <= SAMPLING[key].high
    again = parse_presets(presets_json(list(BUILTIN_PRESETS)))
    assert [p.record() for p in again] == [p.record() for p in BUILTIN_PRESETS]
    precise = next(p for p in BUILTIN_PRESETS if p.name == "Precise")
    assert precise.generation(GenerationSettings()).temperature < 0.5


def preset_file(**changes: object) -> str:
    record: dict[str, object] = {
        "name": "Mine",
        "description": "",
        "system_prompt": "Be brief.",
        "sampling": {"temperature": 0.3},
    }
    record.update(changes)
    return json.dumps({"format": "huacaya-presets", "version": 1, "presets": [record]})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        (preset_file(colour="red"), "“colour” is an unknown field"),
        (preset_file(sampling={"temprature": 1}), "unknown field “temprature”"),
        (preset_file(sampling={"temperature": 3}), "temperature is 3, out of range: it must be "
         "a number from 0 to 2"),
        (preset_file(sampling={"top_k": 1.5}), "top_k is 1.5; it must be a whole number from 0 "
         "to 1,000"),
        (preset_file(sampling={"max_tokens": True}), "max_tokens is true"),
        (preset_file(name=""), "has no name"),
        (preset_file(name="A (changed)"), "ends with “(changed)”"),
        (preset_file(system_prompt=5), "“system_prompt” is the number 5, not text"),
        (json.dumps({"presets": [], "version": 2}), "version 2"),
        (json.dumps({"presets": []}), "holds no presets"),
        (json.dumps([{"name": "a"}, {"name": "A"}]), "Preset 2 is named “A”, as an earlier one is"),
        ("42", "holds the number 42, not presets"),
    ],
)  # fmt: skip
def test_a_bad_preset_file_is_refused_with_one_line_naming_the_problem(
    text: str, words: str
) -> None:
    with pytest.raises(PresetError) as caught:
        parse_presets(text)
    assert words in caught.value.message
    assert "\n" not in caught.value.message


def test_one_preset_a_list_or_a_presets_file_are_all_read() -> None:
    one = {"name": "Solo", "sampling": {"seed": 7}}
    assert parse_presets(json.dumps(one))[0].sampling == {"seed": 7}
    assert [p.name for p in parse_presets(json.dumps([one, {"name": "Duo"}]))] == ["Solo", "Duo"]
    assert parse_presets(preset_file())[0].system_prompt == "Be brief."


def test_user_presets_are_saved_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "presets.json"
    store = PresetStore(path)
    store.add(Preset("Mine", "d", "Be brief.", {"temperature": 0.3}))
    copy = store.duplicate("Precise")
    assert copy.name == "Precise copy" and not copy.builtin
    store.rename("Mine", "Brief")
    again = PresetStore(path)
    assert [p.name for p in again.user] == ["Brief", "Precise copy"]
    assert again.get("brief").sampling == {"temperature": 0.3}  # names ignore case
    assert [p.name for p in path.parent.iterdir()] == ["presets.json"]  # no temporary left
    again.delete("Brief")
    assert [p.name for p in PresetStore(path).user] == ["Precise copy"]


def test_built_in_presets_cannot_be_deleted_or_renamed_and_names_stay_unique(
    tmp_path: Path,
) -> None:
    store = PresetStore(tmp_path / "presets.json")
    for change in (lambda: store.delete("Precise"), lambda: store.rename("Default", "Mine")):
        with pytest.raises(PresetError, match="comes with Huacaya"):
            change()
    with pytest.raises(PresetError, match="already exists"):
        store.add(Preset("creative"))
    assert store.get("Precise") is not None and store.user == []


def test_import_adds_every_preset_or_none_and_numbers_names_taken(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "presets.json")
    store.add(Preset("Mine"))
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"name": "Mine"}, {"name": "Mine (2)"}, {"name": "Precise"}]))
    added = store.import_file(good)
    assert [p.name for p in added] == ["Mine (2)", "Mine (2) (2)", "Precise (2)"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "Fine"}, {"name": "Hot", "sampling": {"temperature": 9}}]))
    with pytest.raises(PresetError) as caught:
        store.import_file(bad)
    assert caught.value.message.startswith("“bad.json”: In preset 2 (“Hot”), temperature is 9")
    assert store.get("Fine") is None


def test_export_then_import_gives_the_same_presets(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "a" / "presets.json")
    mine = store.add(Preset("Mine", "my own", "Speak like a pirate.", {"top_p": 0.5, "seed": 3}))
    out = tmp_path / "export.json"
    store.export_file(out, ["Mine", "Concise"])
    other = PresetStore(tmp_path / "b" / "presets.json")
    added = other.import_file(out)
    assert [p.record() for p in added] == [mine.record(), other.get("Concise (2)").record()]


def test_a_damaged_presets_file_is_kept_aside_and_the_built_in_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "presets.json"
    path.write_text("{ damaged")
    store = PresetStore(path)
    assert store.user == [] and store.get("Default") is not None
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["presets.json.damaged"]


def test_a_chat_uses_a_preset_shows_it_changed_and_keeps_its_name(tmp_path: Path) -> None:
    defaults = GenerationSettings(temperature=0.8, max_tokens=300)
    concise = next(p for p in BUILTIN_PRESETS if p.name == "Concise")
    precise = next(p for p in BUILTIN_PRESETS if p.name == "Precise")
    history = History(tmp_path / "history.sqlite3")
    try:
        session = ChatSession(history, lambda model: defaults, lambda: concise)
        assert session.preset == "Concise" and session.generation.max_tokens == 256
        session.use_preset(precise)
        assert session.system_prompt == precise.system_prompt
        assert session.generation.temperature == 0.2
        assert session.generation.max_tokens == 300  # not in the preset: the model's default
        assert not session.preset_changed(precise)
        assert session.ask("Hello").settings.temperature == 0.2
        session.fail()
        session.ask("Hello again")
        session.add_delta("Hi.")
        session.finish(None)  # a saved chat
        session.configure(generation=GenerationSettings(temperature=0.9, max_tokens=300))
        assert session.preset_changed(precise)
        assert shown_name("Precise", session.preset_changed(precise)) == "Precise (changed)"
        chat = session.conversation_id
        assert chat is not None
        reopened = ChatSession(history, lambda model: defaults)
        reopened.open(chat)
        assert reopened.preset == "Precise" and reopened.preset_changed(precise)
        reopened.new()
        assert reopened.preset == "" and reopened.system_prompt == ""
    finally:
        history.close()
