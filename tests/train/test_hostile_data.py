"""Training data and seed tasks that are not what they seem: text that is not text, JSON too deep
or too long to read, a pipe named like a data file, a misspelled path taken for a Hub dataset.
Each is one clear refusal, before anything is written; valid JSON Lines with U+2028 is read."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.errors import SeedTasksError, TrainingDataError
from conversion.selfinstruct.seeds import load_seed_tasks
from conversion.train import data as data_module
from conversion.train.cli import main
from conversion.train.data import load_training_data

GOOD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


@pytest.fixture
def no_hang() -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError("blocked")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_surrogate_in_a_record_is_refused_before_out_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps(GOOD) + "\n" + '{"instruction": "Say \\ud800 hi.", "output": "Hi."}\n',
        encoding="utf-8",
    )
    with pytest.raises(TrainingDataError, match="record 2: instruction holds a lone surrogate"):
        load_training_data(str(data))
    out = tmp_path / "run"
    code = main(["--base", str(tmp_path / "no-model"), "--data", str(data), "--out", str(out)])
    assert code == 1
    assert "lone surrogate" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('[{"instruction": ' + "[" * 500 + "]" * 500 + ', "output": "x"}]', "nested"),
        ('[{"instruction": "a", "output": "b", "n": ' + "9" * 5000 + "}]", "4,300 digits"),
    ],
    ids=["100,000 levels", "500 levels in a record", "5000-digit number"],
)
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_too_deep_or_long_to_read_is_one_message(
    tmp_path: Path, content: str, says: str, suffix: str
) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(content if suffix == ".json" else content[1:-1], encoding="utf-8")
    with pytest.raises(TrainingDataError, match=says):
        load_training_data(str(path))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(content[1:-1], encoding="utf-8")
    with pytest.raises(SeedTasksError, match="Line 1"):
        load_seed_tasks(seeds)


def test_json_lines_with_a_line_separator_in_a_text_are_read(tmp_path: Path) -> None:
    record = {"instruction": "Join the lines.", "input": "one\u2028two\u0085three", "output": "ok"}
    path = tmp_path / "data.jsonl"
    path.write_text(
        json.dumps(GOOD) + "\n" + json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    data = load_training_data(str(path))
    assert [r.input for r in data.records] == ["", "one\u2028two\u0085three"]
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_seed_tasks(seeds)[1].input == "one\u2028two\u0085three"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_named_like_data_is_refused_at_once(tmp_path: Path, no_hang: None) -> None:
    os.mkfifo(tmp_path / "data.jsonl")
    with pytest.raises(TrainingDataError, match="named pipe"):
        load_training_data(str(tmp_path / "data.jsonl"))
    with pytest.raises(SeedTasksError, match="named pipe"):
        load_seed_tasks(tmp_path / "data.jsonl")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    with pytest.raises(TrainingDataError, match="character device"):
        load_training_data(str(tmp_path / "zero.json"))


def test_a_misspelled_path_is_not_sent_to_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hub(*args: object) -> None:
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(data_module, "_download_dataset", no_hub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "alpaca.json").write_text(json.dumps([GOOD]), encoding="utf-8")
    for misspelled in ("data/alpca.json", "data/alpaca"):
        with pytest.raises(TrainingDataError, match="does not exist") as caught:
            load_training_data(misspelled)
        assert "data/alpaca.json" in caught.value.hint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingDataError, match="offline mode is on"):
        load_training_data("tatsu-lab/alpaca")
