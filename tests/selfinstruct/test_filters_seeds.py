"""Every filter rule, and reading seed files (Stanford's real one and broken ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import SeedTasksError
from conversion.selfinstruct import filters as f
from conversion.selfinstruct.filters import FilterRules, InstructionFilter
from conversion.selfinstruct.seeds import Task, load_seed_tasks


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ("Name three rivers.", f.TOO_SHORT),  # 3 words: dropped, as Stanford's <= 3
        ("Name three big rivers.", None),
        (" ".join(["word"] * 150), None),
        (" ".join(["word"] * 151), f.TOO_LONG),
        ("Draw a cat sitting on a mat.", f.BLACKLISTED),
        ("Describe what is in the IMAGE below.", f.BLACKLISTED),  # any case
        ("Tell me how to go to the station.", f.BLACKLISTED),  # two-word entry
        ("Open the drawer and list what is inside.", None),  # whole words only
        ("Explain the mapping between keys and values.", None),
        ("Write a program that adds two numbers.", f.BANNED_PREFIX),
        ("write a program that adds two numbers.", None),  # case-sensitive, as Stanford's
        ('"Explain the joke in one sentence."', f.PUNCTUATION),
        ("- List the planets of the solar system.", f.PUNCTUATION),
        ("Ébauchez a plan for the weekend trip.", f.NON_ASCII),
    ],
)
def test_stanford_rules(instruction: str, reason: str | None) -> None:
    assert InstructionFilter().rejection(instruction) == reason


def test_every_rule_is_an_option() -> None:
    relaxed = InstructionFilter(
        FilterRules(
            min_words=0,
            max_words=1000,
            blacklist=("c++",),  # escaped, not a regular expression
            banned_prefixes=(),
            drop_punctuation_start=False,
            drop_non_ascii_start=False,
        )
    )
    for text in ["Hi.", "Draw a cat.", "Write a program.", '"Quote it."', "Ébauchez un plan."]:
        assert relaxed.rejection(text) is None
    assert relaxed.rejection("Explain templates in C++ please.") == f.BLACKLISTED
    assert relaxed.rejection("Explain templates in Cxx please.") is None


def test_stanfords_seed_file(stanford_seeds: Path) -> None:
    tasks = load_seed_tasks(stanford_seeds)
    assert len(tasks) == 175
    assert all(t.instruction and t.output for t in tasks)
    assert any(t.input for t in tasks) and any(not t.input for t in tasks)


def test_plain_seed_lines(tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text(
        '{"instruction": "Add the numbers.", "input": "1, 2", "output": "3"}\n\n'
        '{"instruction": "Say hello.", "output": "Hello!"}\n',
        encoding="utf-8",
    )
    assert load_seed_tasks(path) == [
        Task("Add the numbers.", "1, 2", "3"),
        Task("Say hello.", "", "Hello!"),
    ]


@pytest.mark.parametrize(
    ("second_line", "message"),
    [
        ('{"instruction": "Add.", "instances": [{"input": ""', "Line 2 .* is not valid JSON"),
        ('["a list"]', "Line 2 .* is not a JSON object"),
        ('{"instances": [{"input": "", "output": "x"}]}', 'Line 2 .* has no "instruction"'),
        ('{"instruction": "Add.", "instances": []}', 'Line 2 .*"instances" must be a list'),
        ('{"instruction": "Add.", "instances": [{"input": ""}]}', 'Line 2 .* needs an "output"'),
    ],
)
def test_malformed_seed_file_names_the_line(tmp_path: Path, second_line: str, message: str) -> None:
    path = tmp_path / "seeds.jsonl"
    good = '{"instruction": "Say hi.", "instances": [{"input": "", "output": "Hi"}]}'
    path.write_text(good + "\n" + second_line + "\n", encoding="utf-8")
    with pytest.raises(SeedTasksError, match=message) as caught:
        load_seed_tasks(path)
    assert str(path) in caught.value.message and caught.value.hint


def test_missing_or_empty_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SeedTasksError, match="does not exist"):
        load_seed_tasks(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SeedTasksError, match="has no tasks"):
        load_seed_tasks(empty)
