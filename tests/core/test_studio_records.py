"""A project's records: round trip, damaged lines named, and the train / held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.errors import StudioError
from conversion.train.data import load_training_data
from desktop.core.studio.project import create_project, list_projects
from desktop.core.studio.records import (
    StudioRecord,
    held_out_records,
    load_records,
    save_records,
    training_records,
    write_alpaca,
)


def test_records_round_trip_and_train_as_alpaca(tmp_path: Path) -> None:
    records = [
        StudioRecord("Name a colour.", "", "Blue.", source="seed tasks", score=-0.5),
        StudioRecord("Translate.", "chat", "cat", source="notes.pdf, page 2: …", held_out=True),
        StudioRecord("Half-written", "", ""),
    ]
    path = tmp_path / "data.jsonl"
    save_records(path, records)
    assert load_records(path) == records
    assert training_records(records) == records[:1]
    assert held_out_records(records) == records[1:2]
    # complete records train as saved, extra fields and all; so does the Alpaca copy
    save_records(path, records[:2])
    assert [r.output for r in load_training_data(str(path)).records] == ["Blue.", "cat"]
    alpaca = write_alpaca(tmp_path / "train.json", training_records(records))
    assert json.loads(alpaca.read_text()) == [
        {"instruction": "Name a colour.", "input": "", "output": "Blue."}
    ]
    assert load_training_data(str(alpaca)).records[0].output == "Blue."


def test_a_damaged_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": 3}\n', encoding="utf-8")
    with pytest.raises(StudioError, match=r"Line 2 of data\.jsonl: “instruction” is not text"):
        load_records(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(StudioError, match=r"Line 1 of data\.jsonl is not valid JSON"):
        load_records(path)


def test_projects_are_listed_and_a_damaged_one_is_skipped(tmp_path: Path) -> None:
    first = create_project("Poems", root=tmp_path)
    second = create_project("Poems!", root=tmp_path)  # the same folder name: another one
    assert first.folder.name == "poems" and second.folder.name == "poems-2"
    (first.folder / "project.json").write_text("{", encoding="utf-8")
    assert [p.folder for p in list_projects(tmp_path)] == [second.folder]
    second.update(base="smollm2-135m-instruct")
    assert list_projects(tmp_path)[0].info.base == "smollm2-135m-instruct"
    with pytest.raises(StudioError, match="needs a name"):
        create_project(" ", root=tmp_path)
