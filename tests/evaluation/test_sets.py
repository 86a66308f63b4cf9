"""Instruction sets and answer files: every accepted format, and bad files refused by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.errors import AnswerFileError, PromptFileError
from desktop.core.evaluation.answer_files import load_answer_set, pair_up
from desktop.core.evaluation.items import load_prompts
from desktop.core.evaluation.journal import JsonLines


def test_the_self_instruct_set_is_read_with_each_first_input(user_oriented: Path) -> None:
    items = load_prompts(user_oriented)
    assert len(items) == 252
    assert len({item.id for item in items}) == 252
    raw = [json.loads(line) for line in user_oriented.read_text().splitlines()]
    assert [item.input for item in items] == [r["instances"][0]["input"].strip() for r in raw]
    with_input = next(item for item in items if item.input)
    assert with_input.question == f"{with_input.instruction}\n\n{with_input.input}"


def test_davinci_answers_pair_with_the_set_they_answer(user_oriented: Path, davinci: Path) -> None:
    reference = load_answer_set(davinci)
    assert reference.name == "text-davinci-003_predictions"
    assert all(answer.response == answer.response.strip() for answer in reference.answers)
    items = load_prompts(user_oriented)
    pairs = pair_up(reference, reference, items)
    assert len(pairs) == 252  # every instruction found, despite its trailing newline there


def test_alpaca_json_alpaca_jsonl_and_plain_lists(tmp_path: Path) -> None:
    records = [
        {"instruction": "Give three tips for staying healthy.", "input": "", "output": "…"},
        {"instruction": "Translate the sentence.", "input": "Good morning.", "output": "…"},
    ]
    as_json = tmp_path / "alpaca.json"
    as_json.write_text(json.dumps(records, indent=2))
    as_jsonl = tmp_path / "alpaca.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    plain = tmp_path / "questions.txt"
    plain.write_text("# my questions\nWhat is a llama?\n\nWhy is the sky blue?\n")
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps(["What is a llama?", "Why is the sky blue?"]))
    for path in (as_json, as_jsonl):
        items = load_prompts(path)
        assert [(i.instruction, i.input) for i in items] == [
            ("Give three tips for staying healthy.", ""),
            ("Translate the sentence.", "Good morning."),
        ]
    for path in (plain, strings):
        assert [i.instruction for i in load_prompts(path)] == [
            "What is a llama?",
            "Why is the sky blue?",
        ]


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        ("set.jsonl", '{"instruction": "a"}\n{"instruction": "b"}\n{"instruction": "c"\n', 3,
         "not a JSON object"),
        ("set.jsonl", '{"instruction": "a"}\n\n{"input": "no instruction"}\n', 3,
         "no “instruction”"),
        ("set.json", '[\n  {"instruction": "a"},\n  {"instruction": ""}\n]\n', 3,
         "no “instruction”"),
        ("set.json", '[\n  {"instruction": "a"},\n  {"instruction": "b",}\n]\n', 3,
         "not valid JSON"),
        ("set.jsonl", '{"instruction": "a", "input": 5}\n', 1, "“input” is not text"),
    ],
)  # fmt: skip
def test_a_malformed_prompt_file_is_refused_naming_the_line(
    tmp_path: Path, name: str, text: str, line: int, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PromptFileError) as refused:
        load_prompts(path)
    assert f"“{name}” line {line}:" in refused.value.message
    assert problem in refused.value.message


def test_an_answer_file_without_responses_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"instruction": "a", "response": "x"}\n{"instruction": "b"}\n')
    with pytest.raises(AnswerFileError, match="line 2: no “response”"):
        load_answer_set(path)


def test_journal_keeps_whole_records_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = JsonLines(path)
    journal.append({"n": 1})
    journal.append({"n": 2})
    with open(path, "ab") as handle:
        handle.write(b'{"n": 3, "text": "cut by a ki')  # the process died here
    assert [r["n"] for r in JsonLines(path).read()] == [1, 2]
    again = JsonLines(path)
    again.append({"n": 4})
    assert [r["n"] for r in JsonLines(path).read()] == [1, 2, 4]
    assert path.read_bytes().count(b"\n") == 3
