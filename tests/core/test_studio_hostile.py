"""The "Make your own" core against bad input, as a hostile or clumsy person gives it: names,
damaged project files, odd dataset files, runs whose child crashed or whose folder went; each
answered with what is wrong and what to do, nothing of the person's lost or overwritten."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conversion.errors import DataGenerationError, StudioError, TrainingDataError
from conversion.train.export import import_command
from conversion.train.run_record import METRIC_COLUMNS, read_metrics
from desktop.cli.main import build_parser
from desktop.core.studio import training
from desktop.core.studio.project import create_project, list_projects, scan_projects
from desktop.core.studio.records import (
    StudioRecord,
    import_dataset,
    left_out,
    load_records,
    nothing_to_train,
    save_records,
)
from desktop.core.studio.seed_generation import (
    adopt_seed_tasks,
    generate_from_seed_tasks,
    keep_taken,
    open_teacher,
)
from desktop.core.studio.training import TrainOptions, list_runs, read_run
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds

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
    said = sorted(e.message for e in damaged)
    assert len(said) == 2
    assert said[0].startswith("The project in “lost” cannot be read")
    assert said[1].startswith("The project in “truncated” cannot be read")
    assert all("project.json" in e.hint for e in damaged)
    assert (truncated.folder / "project.json").read_text() == '{"name": "Trunc'  # untouched
    assert load_records(lost.records_path)[0].output == "Yes."


def _unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
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
    _unreadable(monkeypatch, locked.folder / "project.json")
    _unreadable(monkeypatch, shut.folder)  # the folder itself
    projects, damaged = scan_projects(tmp_path)
    assert projects == [] and len(damaged) == 2
    assert all("Permission denied" in e.message for e in damaged)


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
    assert caught.value.message.startswith("Line 2 of data.jsonl is not JSON")
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


# -- training -------------------------------------------------------------------------------------


def test_nothing_to_train_says_why() -> None:
    assert nothing_to_train([]).message == "This project has no records yet."
    held = [StudioRecord(f"Q{n}?", "", "A.", held_out=True) for n in range(3)]
    assert nothing_to_train(held).message.startswith("All 3 records are held out")
    assert "untick “Held out”" in nothing_to_train(held).hint
    mixed = [*held, StudioRecord("No answer yet", "", "  "), StudioRecord("", "", "No question")]
    said = nothing_to_train(mixed)
    assert "3 are held out and 2 lack an instruction or an output" in said.message


def test_a_run_with_every_record_held_out_is_not_started(tmp_path: Path) -> None:
    project = create_project("All held", base=BASE, root=tmp_path)
    save_records(project.records_path, [StudioRecord("Q?", "", "A.", held_out=True)])
    with pytest.raises(StudioError, match="The one record is held out"):
        training.prepare_run(project, TrainOptions(BASE))
    assert not project.runs_dir.exists() or not any(project.runs_dir.iterdir())
    with pytest.raises(StudioError) as caught:
        training.prepare_run(project, TrainOptions(""))
    assert "Base model" in caught.value.hint  # its own hint, not another error's


def _prepared(tmp_path: Path) -> Path:
    project = create_project("Crashes", base=BASE, root=tmp_path)
    save_records(project.records_path, [StudioRecord("Q?", "", "A.")])
    return training.prepare_run(project, TrainOptions(BASE))


def test_a_child_that_crashed_is_shown_failed_with_its_last_words(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    (folder / training.LOG_FILE).write_text("loading\nFatal Python error: Segmentation fault\n\n")
    training.record_exit(folder, -signal.SIGSEGV)
    run = read_run(folder)
    assert run.state == training.FAILED and run.resumable
    assert run.error == (
        "The training process ended unexpectedly (killed by SIGSEGV): Fatal Python error: "
        "Segmentation fault"
    )
    assert "Resume" in run.hint


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_child_killed_for_memory_says_what_to_try(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.send_signal(signal.SIGKILL)
    training.record_exit(folder, child.wait())
    run = read_run(folder)
    assert run.state == training.FAILED and "killed by SIGKILL" in run.error
    assert "memory" in run.hint and "fewer examples per step" in run.hint


def test_a_child_that_said_its_own_outcome_keeps_it(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    training.write_outcome(folder, training.PAUSED, "Stopped at step 2.")
    training.record_exit(folder, 130)
    assert read_run(folder).state == training.PAUSED
    other = _prepared(tmp_path / "other")
    training.record_exit(other, 0)  # ended well: its manifest says so, nothing to add
    assert not (other / training.OUTCOME_FILE).exists()


def test_a_removed_run_folder_is_said_and_not_made_again(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    with pytest.raises(StudioError, match="not on disk any more"):
        training.request_stop(folder)
    training.record_exit(folder, 1)
    assert not folder.exists()


def test_an_unreadable_runs_folder_shows_no_runs_rather_than_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _prepared(tmp_path)
    project = list_projects(tmp_path)[0]
    with monkeypatch.context() as patched:
        _unreadable(patched, folder.parent)
        assert list_runs(project) == []
    assert [r.folder for r in list_runs(project)] == [folder]


def test_damaged_metrics_are_skipped_row_by_row(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.csv"
    header = ",".join(METRIC_COLUMNS).encode()
    metrics.write_bytes(
        header + b"\n1,2.5,1e-4,100,0.1\n\x00\xff\xfe,\x00\ninf,2.0,1e-4,100,0.1\n"
        b"3,2.1,1e-4,300,0.2\n"
    )
    assert [r.step for r in read_metrics(metrics)] == [1, 3]


# -- what a person types --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["-x", "--help", "-- my model", "a/b"])
def test_an_export_name_that_looks_like_an_option_is_the_name(tmp_path: Path, name: str) -> None:
    command = import_command(tmp_path / "model.gguf", "none", name)
    assert command[1:3] == ["-m", "desktop"]
    args = build_parser().parse_args(command[3:])
    assert args.name == name and Path(args.path) == tmp_path / "model.gguf"


# -- generating -----------------------------------------------------------------------------------


def test_a_damaged_generation_journal_says_what_to_do_in_the_window(tmp_path: Path) -> None:
    server = LoopbackTeacher().start()
    try:
        project = create_project("Generated", root=tmp_path)
        adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
        teacher = open_teacher("openai:fake", base_url=server.url, resolve_model=Path)
        assert len(generate_from_seed_tasks(project, teacher, 2).records) == 2
        (journal,) = project.generation_dir.glob("run-*/*.journal.jsonl")
        journal.write_bytes(b"\xff\xfe not a journal\n")
        with pytest.raises(DataGenerationError) as caught:
            generate_from_seed_tasks(project, teacher, 2)
    finally:
        server.stop()
    assert "is not a journal" in caught.value.message
    assert "--force" not in caught.value.hint and str(journal.parent) in caught.value.hint


def test_what_is_not_trained_on_is_said_beside_the_count() -> None:
    records = [
        StudioRecord("Q?", "", "A."),
        StudioRecord("Kept back?", "", "Yes.", held_out=True),
        StudioRecord("No answer yet", "", ""),
        StudioRecord(" ", "", "An answer to nothing."),
    ]
    assert (
        left_out(records)
        == "1 held out for Compare; 2 left out, lacking an instruction or an output"
    )
    assert left_out(records[:1]) == ""


def test_a_name_emptied_by_hand_shows_the_folders(tmp_path: Path) -> None:
    project = create_project("Named", root=tmp_path)
    (project.folder / "project.json").write_text('{"name": "  "}', encoding="utf-8")
    assert [p.name for p in list_projects(tmp_path)] == ["named"]


def test_records_no_window_received_are_handed_over_again(tmp_path: Path) -> None:
    """The app quit mid-run: the result reached no window, so its records were not kept."""
    server = LoopbackTeacher().start()
    try:
        project = create_project("Quit mid-run", root=tmp_path)
        adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
        teacher = open_teacher("openai:fake", base_url=server.url, resolve_model=Path)
        lost = generate_from_seed_tasks(project, teacher, 3, commit=False)  # never delivered
        again = generate_from_seed_tasks(project, teacher, 3, commit=False)
        assert [r.instruction for r in again.records] == [r.instruction for r in lost.records]
        keep_taken(again)  # now in the table
        newer = generate_from_seed_tasks(project, teacher, 2, commit=False)
    finally:
        server.stop()
    assert len(newer.records) == 2
    assert not {r.instruction for r in newer.records} & {r.instruction for r in again.records}


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


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write that is synced fails as on a full disk (a tiny tmpfs needs root to mount):
    the atomic writers' and the generation journal's."""

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("conversion.output.os.fsync", no_space)


def test_a_full_disk_keeps_the_old_records_and_leaves_no_half_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = create_project("Full", base=BASE, root=tmp_path)
    save_records(project.records_path, [StudioRecord("Q?", "", "A.")])
    before = project.records_path.read_bytes()
    with monkeypatch.context() as patched:
        _full_disk(patched)
        with pytest.raises(StudioError) as caught:
            save_records(project.records_path, [StudioRecord("New?", "", "B.")] * 3)
        assert caught.value.message == "data.jsonl could not be saved: No space left on device."
        assert "Free some disk space" in caught.value.hint
        with pytest.raises(StudioError, match="could not be prepared"):
            training.prepare_run(project, TrainOptions(BASE))
    assert project.records_path.read_bytes() == before
    assert sorted(p.name for p in project.folder.iterdir()) == [
        "data.jsonl",
        "project.json",
        "runs",
    ]
    assert list(project.runs_dir.iterdir()) == []


def test_generating_onto_a_full_disk_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LoopbackTeacher().start()
    try:
        project = create_project("Full generation", root=tmp_path)
        adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
        teacher = open_teacher("openai:fake", base_url=server.url, resolve_model=Path)
        first = generate_from_seed_tasks(project, teacher, 2)
        with monkeypatch.context() as patched:
            _full_disk(patched)
            with pytest.raises(DataGenerationError) as caught:
                generate_from_seed_tasks(project, teacher, 40)
        assert "No space left on device" in caught.value.message
        assert "Free some disk space" in caught.value.hint
        after = generate_from_seed_tasks(project, teacher, 2)  # goes on once there is room
    finally:
        server.stop()
    assert len(after.records) == 2
    assert not {r.instruction for r in after.records} & {r.instruction for r in first.records}
