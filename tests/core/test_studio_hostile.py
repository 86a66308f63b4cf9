"""The "Make your own" core against bad input, as a hostile or clumsy person gives it: project
names, damaged or unreadable project files, odd dataset files; each answered with what is wrong
and what to do, nothing of the person's lost or overwritten."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conversion.errors import StudioError, TrainingDataError
from desktop.core.studio.project import create_project, list_projects, scan_projects
from desktop.core.studio.records import (
    StudioRecord,
    import_dataset,
    load_records,
    save_records,
)

BASE = "smollm2-135m-instruct"


def test_a_name_taken_in_any_case_is_refused_and_the_first_project_kept(tmp_path: Path) -> None:
    first = create_project("Cooking assistant", root=tmp_path)
    before = (first.folder / "project.json").read_bytes()
    for again in ("Cooking assistant", "cooking ASSISTANT", "  Cooking\tassistant "):
        with pytest.raises(StudioError, match="There is a project named “Cooking assistant”"):
            create_project(again, root=tmp_path)
    assert [p.folder for p in list_projects(tmp_path)] == [first.folder]
    assert (first.folder / "project.json").read_bytes() == before
    # The same words differently spelled are another name; its folder is another folder.
    other = create_project("Cooking assistant!", root=tmp_path)
    assert other.folder.name == "cooking-assistant-2"


@pytest.mark.parametrize("name", ["con", "NUL", "aux", "com1", "LPT9", "prn"])
def test_a_name_windows_keeps_for_devices_gets_a_folder_windows_can_make(
    tmp_path: Path, name: str
) -> None:
    project = create_project(name, root=tmp_path)
    assert project.name == name
    assert project.folder.name == f"{name.lower()}-project"


def test_odd_names_make_ordinary_folders(tmp_path: Path) -> None:
    assert create_project("../x", root=tmp_path).folder == tmp_path / "x"
    assert create_project("🦙🦙", root=tmp_path).folder == tmp_path / "project"
    pasted = create_project("a\x00b\x1bc", root=tmp_path)  # control characters pasted in
    assert pasted.name == "a b c" and pasted.folder.parent == tmp_path
    with pytest.raises(StudioError, match="at most 80 characters"):
        create_project("x" * 300, root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-b-c", "project", "x"]


def test_damaged_projects_are_said_not_hidden_and_left_as_they_are(tmp_path: Path) -> None:
    good = create_project("Good", root=tmp_path)
    truncated = create_project("Truncated", root=tmp_path)
    (truncated.folder / "project.json").write_text('{"name": "Trunc', encoding="utf-8")
    lost = create_project("Lost", root=tmp_path)
    save_records(lost.records_path, [StudioRecord("Kept?", "", "Yes.")])
    (lost.folder / "project.json").unlink()
    (tmp_path / "empty").mkdir()  # nothing of a project's: not one
    (tmp_path / "notes.txt").write_text("a stray file")

    projects, damaged = scan_projects(tmp_path)
    assert [p.folder for p in projects] == [good.folder]
    assert [d.folder.name for d in damaged] == ["lost", "truncated"]
    said = sorted(d.error.message for d in damaged)
    assert len(said) == 2
    assert said[0].startswith("The project in “lost” cannot be read")
    assert said[1].startswith("The project in “truncated” cannot be read")
    assert all("project.json" in d.error.hint for d in damaged)
    assert (truncated.folder / "project.json").read_text() == '{"name": "Trunc'  # untouched
    assert load_records(lost.records_path)[0].output == "Yes."


def unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """``path`` refused as permissions refuse it (chmod binds no root, and not Windows)."""
    for method in ("read_text", "read_bytes", "iterdir", "open"):
        real = getattr(Path, method)

        def refuse(
            self: Path, *args: object, _real: Callable[..., object] = real, **kwargs: object
        ) -> object:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Path, method, refuse)


def test_an_unreadable_project_file_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = create_project("Locked", root=tmp_path)
    shut = create_project("Shut", root=tmp_path)
    unreadable(monkeypatch, locked.folder / "project.json")
    unreadable(monkeypatch, shut.folder)  # the folder itself
    projects, damaged = scan_projects(tmp_path)
    assert projects == [] and len(damaged) == 2
    assert all("Permission denied" in d.error.message for d in damaged)


def test_a_project_folder_removed_while_open_is_a_project_again_when_saved(
    tmp_path: Path,
) -> None:
    project = create_project("Vanishing", base=BASE, root=tmp_path)
    for path in sorted(project.folder.iterdir()):
        path.unlink()
    project.folder.rmdir()
    project.keep_on_disk()
    save_records(project.records_path, [StudioRecord("Still here?", "", "Yes.")])
    (again,) = list_projects(tmp_path)
    assert again.name == "Vanishing" and again.info.base == BASE
    assert load_records(again.records_path)[0].instruction == "Still here?"


def test_a_damaged_data_file_names_its_line_and_where_it_is(tmp_path: Path) -> None:
    project = create_project("Damaged", root=tmp_path)
    project.records_path.write_text('{"instruction": "a", "output": "b"}\n{"instr', "utf-8")
    with pytest.raises(StudioError) as caught:
        load_records(project.records_path)
    assert caught.value.message == (
        "Line 2 of data.jsonl is not valid JSON (Unterminated string starting at line 1)."
    )
    assert str(project.records_path) in caught.value.hint
    project.records_path.write_bytes(b'{"instruction": "\xff"}\n')
    with pytest.raises(StudioError, match="cannot be read") as caught:
        load_records(project.records_path)
    assert str(project.records_path) in caught.value.hint


# -- importing ------------------------------------------------------------------------------------


def test_a_csv_file_imports_by_its_header(tmp_path: Path) -> None:
    data = tmp_path / "mine.csv"
    long = "word " * 60_000  # 300 KB in one cell: past the csv module's default field limit
    data.write_text(
        'instruction,extra,input,output\n"Say hi, politely.",x,,"Hello,\nfriend."\n'
        f"Repeat it.,y,a word,{long}\n",
        encoding="utf-8",
    )
    records = import_dataset(data)
    assert [(r.instruction, r.input, r.output) for r in records] == [
        ("Say hi, politely.", "", "Hello,\nfriend."),
        ("Repeat it.", "a word", long),
    ]
    assert {r.source for r in records} == {"imported: mine.csv"}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            "instruction,answer\nHi,there\n",
            "has no “output” column (its header: instruction, answer)",
        ),
        ("question\nHi\n", "has no “instruction” and no “output” column"),
        ("instruction,output\nHi,\n", "record 1: output is empty"),
        ("", "holds no records"),
    ],
)
def test_a_csv_file_without_what_it_needs_says_what(
    tmp_path: Path, content: str, said: str
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        import_dataset(data)
    assert said in str(caught.value)


def test_a_file_that_is_not_utf8_says_how_to_mend_it(tmp_path: Path) -> None:
    data = tmp_path / "latin1.jsonl"
    data.write_bytes('{"instruction": "Café?", "output": "Oui."}\n'.encode("latin-1"))
    with pytest.raises(TrainingDataError) as caught:
        import_dataset(data)
    assert "is not UTF-8 text" in caught.value.message
    assert "UTF-8" in caught.value.hint


def test_a_name_emptied_by_hand_shows_the_folders(tmp_path: Path) -> None:
    project = create_project("Named", root=tmp_path)
    (project.folder / "project.json").write_text('{"name": "  "}', encoding="utf-8")
    assert [p.name for p in list_projects(tmp_path)] == ["named"]


@pytest.mark.parametrize("frozen", [False, True])
def test_parquet_without_pyarrow_says_what_to_do_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: bool
) -> None:
    data = tmp_path / "train.parquet"
    data.write_bytes(b"PAR1 not read: pyarrow is missing PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import fails, as without it
    if frozen:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(TrainingDataError) as caught:
        import_dataset(data)
    assert caught.value.message == "Reading “train.parquet” needs pyarrow."
    hint = caught.value.hint
    assert ("installed app" in hint and "JSON Lines" in hint) if frozen else "pip install" in hint


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('{"instruction": ' + "[" * 5000 + "]" * 5000 + "}", "is nested more than"),
        ('{"instruction": "a", "score": ' + "9" * 5000 + "}", "digits"),
    ],
)
def test_a_data_line_no_json_reader_takes_is_named_too(
    tmp_path: Path, line: str, said: str
) -> None:
    """(Before, these escaped as RecursionError/ValueError: the window kept showing the previous
    project's records under this one's name, and saved them over its file.)"""
    project = create_project("Hand edited", root=tmp_path)
    project.records_path.write_text('{"instruction": "a", "output": "b"}\n' + line + "\n")
    with pytest.raises(StudioError) as caught:
        load_records(project.records_path)
    assert caught.value.message.startswith("Line 2 of data.jsonl") and said in caught.value.message


def test_a_project_file_no_json_reader_takes_is_said_not_raised(tmp_path: Path) -> None:
    good = create_project("Good", root=tmp_path)
    deep = create_project("Deep", root=tmp_path)
    (deep.folder / "project.json").write_text('{"name": ' + "[" * 5000 + "]" * 5000 + "}")
    projects, damaged = scan_projects(tmp_path)
    assert [p.folder for p in projects] == [good.folder]
    assert "nested more than" in damaged[0].error.message


@pytest.mark.parametrize("name", ["empty.json", "empty.jsonl", "blank.json"])
def test_an_empty_dataset_file_holds_no_records(tmp_path: Path, name: str) -> None:
    data = tmp_path / name
    data.write_text("" if name.startswith("empty") else " \n\n ", encoding="utf-8")
    with pytest.raises(TrainingDataError) as caught:
        import_dataset(data)
    assert caught.value.message == f"{data} holds no records."  # not "not valid JSON"
