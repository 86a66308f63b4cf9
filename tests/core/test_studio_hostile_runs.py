"""The "Make your own" core against bad input and bad luck: nothing to train on, a training child
that crashed, a run folder that went, damaged metrics, a damaged generation journal, a result
no window received, a full disk; each said with what to do, nothing of the person's lost."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.errors import DataGenerationError, StudioError, TeacherError
from conversion.train.export import import_command
from conversion.train.run_record import METRIC_COLUMNS, read_metrics
from desktop.cli.main import build_parser
from desktop.core.studio import runs, training
from desktop.core.studio.project import create_project, list_projects
from desktop.core.studio.records import (
    StudioRecord,
    left_out,
    nothing_to_train,
    save_records,
)
from desktop.core.studio.runs import list_runs, read_run
from desktop.core.studio.seed_generation import (
    adopt_seed_tasks,
    generate_from_seed_tasks,
    keep_taken,
    open_teacher,
)
from desktop.core.studio.teacher import in_the_window
from desktop.core.studio.training import TrainOptions
from tests.core.test_studio_hostile import unreadable
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds

BASE = "smollm2-135m-instruct"


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
    (folder / runs.LOG_FILE).write_text("loading\nFatal Python error: Segmentation fault\n\n")
    training.record_exit(folder, -signal.SIGSEGV)
    run = read_run(folder)
    assert run.state == runs.FAILED and run.resumable
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
    assert run.state == runs.FAILED and "killed by SIGKILL" in run.error
    assert "memory" in run.hint and "fewer examples per step" in run.hint


def test_a_child_that_said_its_own_outcome_keeps_it(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    training.write_outcome(folder, runs.PAUSED, "Stopped at step 2.")
    training.record_exit(folder, 130)
    assert read_run(folder).state == runs.PAUSED
    other = _prepared(tmp_path / "other")
    training.record_exit(other, 0)  # ended well: its manifest says so, nothing to add
    assert not (other / runs.OUTCOME_FILE).exists()


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
        unreadable(patched, folder.parent)
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


def test_a_teachers_errors_name_the_windows_fields_not_the_commands_options(
    tmp_path: Path,
) -> None:
    server = LoopbackTeacher().start()
    said = []
    try:
        project = create_project("Refused", root=tmp_path)
        adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
        for status in (401, 404):
            server.knobs.statuses.extend([status] * 3)
            teacher = open_teacher("openai:fake", base_url=server.url, resolve_model=Path)
            with pytest.raises(TeacherError) as caught:
                generate_from_seed_tasks(project, teacher, 2)
            said.append((caught.value, in_the_window(caught.value)))
            server.knobs.statuses.clear()
        server.knobs.garbage = "html"
        teacher = open_teacher("openai:fake", base_url=server.url, resolve_model=Path)
        with pytest.raises(TeacherError) as caught:
            generate_from_seed_tasks(project, teacher, 2)
        said.append((caught.value, in_the_window(caught.value)))
    finally:
        server.stop()
    teacher = open_teacher("openai:fake", base_url="http://127.0.0.1:9/v1", resolve_model=Path)
    with pytest.raises(TeacherError) as caught:
        generate_from_seed_tasks(project, teacher, 2)
    said.append((caught.value, in_the_window(caught.value)))
    for command, window in said:
        assert "--" in command.hint  # the command's own options, right for the terminal
        assert window.message == command.message and type(window) is type(command)
        assert "--" not in window.hint and "command" not in window.hint
        assert "Teacher tab" in window.hint or "Server URL" in window.hint
    assert "API key" in said[0][1].hint and "model's name" in said[1][1].hint


def test_a_launch_file_no_json_reader_takes_reads_as_none(tmp_path: Path) -> None:
    folder = _prepared(tmp_path)
    (folder / runs.LAUNCH_FILE).write_text('{"options": ' + "[" * 5000 + "]" * 5000 + "}")
    (run,) = list_runs(list_projects(tmp_path)[0])  # no error each second in the window
    assert run.state == runs.INTERRUPTED and run.options == {}
