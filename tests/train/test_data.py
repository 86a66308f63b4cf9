"""Reading instruction data: the seed tasks as they are, JSON/JSONL/Parquet, Hub datasets, and a
bad file refused with its record numbers before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conversion.errors import TrainingDataError
from conversion.train.cli import main
from conversion.train.data import Record, load_training_data
from tests.hub_server import LoopbackHub


def test_seed_tasks_are_read_as_they_are_one_record_per_instance(seed_tasks: Path) -> None:
    data = load_training_data(str(seed_tasks))
    raw = [json.loads(line) for line in seed_tasks.read_text(encoding="utf-8").splitlines()]
    instances = [(task, inst) for task in raw for inst in task["instances"]]
    assert len(data.records) == len(instances) == 175
    for record, (task, instance) in zip(data.records, instances, strict=True):
        assert record == Record(task["instruction"], instance["input"], instance["output"])
    assert any(r.input for r in data.records) and any(not r.input for r in data.records)
    assert len(data.sha256) == 64 and data.files == ["seed_tasks.jsonl"]


def test_json_jsonl_and_parquet_give_the_same_records(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
        {"instruction": "Say hello.", "output": "Hello!"},  # no input: none
    ]
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text("\n".join(map(json.dumps, rows)), encoding="utf-8")
    table = pa.Table.from_pylist([{**r, "input": r.get("input", "")} for r in rows])
    pq.write_table(table, tmp_path / "a.parquet")
    files = [tmp_path / f"a.{ext}" for ext in ("json", "jsonl", "parquet")]
    loaded = [load_training_data(str(file)) for file in files]
    assert loaded[0].records == loaded[1].records == loaded[2].records
    assert loaded[0].records[2] == Record("Say hello.", "", "Hello!")
    assert len(load_training_data(str(tmp_path / "a.json"), limit=2).records) == 2


BAD_LINES = [
    {"instruction": "Fine.", "input": "", "output": "Yes."},
    {"instruction": "Empty output.", "input": "", "output": "  "},
    {"instruction": "Also fine.", "output": "Sure."},
    {"instruction": 7, "input": "", "output": "A number as instruction."},
    {"instruction": "Input is a list.", "input": ["a"], "output": "x"},
    {"output": "No instruction."},
    ["not", "an", "object"],
]


def test_a_bad_file_is_refused_naming_each_record_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in BAD_LINES) + "\n", encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        load_training_data(str(data))
    message = caught.value.message
    assert "5 bad records" in message
    for expected in (
        "record 2: output is empty",
        "record 4: instruction is a number",
        "record 5: input is a list",
        "record 6: instruction is missing",
        "record 7 is a list, not an object",
    ):
        assert expected in message
    assert "record 1" not in message and "record 3" not in message
    assert caught.value.hint  # says what a record needs

    out = tmp_path / "run"
    code = main(["--base", str(tmp_path / "no-model"), "--data", str(data), "--out", str(out)])
    assert code == 1
    stderr = capsys.readouterr().err
    assert "record 2: output is empty" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_unreadable_json_lines_are_named(tmp_path: Path) -> None:
    data = tmp_path / "broken.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n{"instruction": \n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="record 2 is not valid JSON"):
        load_training_data(str(data))


@pytest.fixture
def dataset_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoopbackHub:
    rows = [
        {"instruction": "Give a synonym.", "input": "happy", "output": "glad"},
        {"instruction": "Name a planet.", "input": "", "output": "Mars"},
    ]
    parquet = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    readme = tmp_path / "README.md"
    readme.write_text("# alpaca\n", encoding="utf-8")
    hub = LoopbackHub()
    hub.add_dataset(
        "tatsu-lab/alpaca",
        {"README.md": readme, "data/train-00000-of-00001.parquet": parquet},
    )
    hub.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    yield hub
    hub.stop()


def test_a_hub_dataset_id_is_downloaded_with_huggingface_hub(
    dataset_hub: LoopbackHub, tmp_path: Path
) -> None:
    data = load_training_data("tatsu-lab/alpaca", cache_dir=tmp_path / "cache")
    with pytest.raises(TrainingDataError, match="no dataset test-org/missing"):
        load_training_data("test-org/missing", cache_dir=tmp_path / "cache")
    assert data.records == [
        Record("Give a synonym.", "happy", "glad"),
        Record("Name a planet.", "", "Mars"),
    ]
    assert data.files == ["train-00000-of-00001.parquet"] and data.revision
    assert any(r.startswith("/datasets/tatsu-lab/alpaca/resolve/") for r in dataset_hub.requests)
