"""The "Make your own" window against bad input, used as a hostile or clumsy person: damaged
projects and data files, a CSV without its columns, nothing left to train on, a training child
that crashes, a second training started beside the first, a share over 100%, the project's
folder removed while the window is open. Each is said in the window (a dialog or a line that
stays), and nothing the person had is lost or written over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QTreeWidget,
)

from conversion.ownership import Owner
from desktop.core.models.starter import STARTER_ID
from desktop.core.studio import runs, training
from desktop.core.studio.project import StudioProject, create_project, list_projects
from desktop.core.studio.records import StudioRecord, load_records, save_records
from desktop.core.studio.seed_generation import adopt_seed_tasks
from desktop.ui.main_window import MainWindow
from desktop.ui.studio.window import StudioWindow
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds
from tests.ui.person import (
    WAIT_MS,
    choose_in_combo,
    click,
    dialog_named,
    from_menu,
    pick_file,
    tick,
    type_into_dialog,
)

pytestmark = pytest.mark.timeout(600)
CHILD_MS = 120_000  # a training child starting (torch imported) on a shared 2-core machine


def _studio(qtbot, window: MainWindow) -> StudioWindow:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "Models", "Make your own model…")
    studio = window.studio_window
    assert isinstance(studio, StudioWindow)
    qtbot.waitExposed(studio)
    return studio


def _button(studio: StudioWindow, text: str) -> QPushButton:
    found = [b for b in studio.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert found, f"no visible “{text}” button"
    return found[0]


def _label(studio: StudioWindow, name: str) -> QLabel:
    label = studio.findChild(QLabel, name)
    assert label is not None, f"no {name}"
    return label


def _step(studio: StudioWindow, number: int) -> None:
    tabs = studio.findChild(QTabWidget, "studioSteps")
    assert tabs is not None
    click(tabs.tabBar(), tabs.tabBar().tabRect(number - 1).center())
    assert tabs.currentIndex() == number - 1


def _rows(studio: StudioWindow) -> list[list[str]]:
    table = studio.findChild(QTableView, "studioRecords")
    assert table is not None
    model = table.model()
    return [
        [str(model.index(r, c).data() or "") for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def _records(project: StudioProject, n: int, held_out: bool = False) -> None:
    rows = [
        StudioRecord(f"Say {i} in words.", "", f"It is {i}.", held_out=held_out) for i in range(n)
    ]
    save_records(project.records_path, rows)


def test_a_damaged_project_is_said_and_left_as_it_is(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    create_project("Fine")
    broken = create_project("Broken")
    (broken.folder / "project.json").write_text('{"name": "Bro', encoding="utf-8")
    studio = _studio(qtbot, window)
    said = _label(studio, "damagedProjects")
    assert said.isVisible()
    assert said.text() == (
        "“broken” is not listed: its project.json cannot be read (point here for why)."
    )
    assert said.toolTip().startswith("The project in “broken” cannot be read: it is not valid")
    assert "Mend or restore its project.json" in said.toolTip()
    assert (broken.folder / "project.json").read_text(encoding="utf-8") == '{"name": "Bro'


def test_a_damaged_data_file_is_said_and_never_saved_over(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Half written")
    damaged = '{"instruction": "Kept?", "output": "Yes."}\n{"instruction": "Cut sh'
    project.records_path.write_text(damaged, encoding="utf-8")
    studio = _studio(qtbot, window)
    box = dialog_named(qtbot, "errorDialog")
    assert box.text().startswith("Line 2 of data.jsonl is not valid JSON")  # type: ignore[attr-defined]
    assert str(project.records_path) in box.informativeText()  # type: ignore[attr-defined]
    box.close()
    note = _label(studio, "dataNote")  # still said once the dialog is gone
    assert note.isVisible() and note.text().startswith("Not opened: Line 2 of data.jsonl")
    _step(studio, 2)
    assert "Line 2 of data.jsonl" in _label(studio, "trainPlan").text()
    assert not _button(studio, "Start training").isEnabled()
    studio.close()
    assert project.records_path.read_text(encoding="utf-8") == damaged


def test_a_csv_imports_by_its_header_and_one_without_its_columns_is_named(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    create_project("From a sheet")
    studio = _studio(qtbot, window)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text('instruction,output\n"Add 2 and 2.",4\nName a colour.,Blue.\n', "utf-8")
    click(_button(studio, "Import…"))
    pick_file(qtbot, sheet)
    assert [r[:4] for r in _rows(studio)] == [
        ["Add 2 and 2.", "", "4", "imported: sheet.csv"],
        ["Name a colour.", "", "Blue.", "imported: sheet.csv"],
    ]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("question,answer\nWhy?,Because.\n", encoding="utf-8")
    click(_button(studio, "Import…"))
    pick_file(qtbot, wrong)
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == (  # type: ignore[attr-defined]
        "“wrong.csv” has no “instruction” and no “output” column (its header: question, answer)."
    )
    assert "header row" in box.informativeText()  # type: ignore[attr-defined]
    assert len(_rows(studio)) == 2


def test_nothing_to_train_says_why_in_the_train_step(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    project = create_project("All kept back", base=STARTER_ID)
    _records(project, 3, held_out=True)
    studio = _studio(qtbot, window)
    _step(studio, 2)
    plan = _label(studio, "trainPlan")
    qtbot.waitUntil(lambda: "held out" in plan.text(), timeout=WAIT_MS)
    assert plan.text().startswith("All 3 records are held out (kept for Compare)")
    assert "untick “Held out”" in plan.text()
    assert not _button(studio, "Start training").isEnabled()
    _step(studio, 1)  # the person does so for one record
    table = studio.findChild(QTableView, "studioRecords")
    assert table is not None
    tick(table, table.model().index(0, 5))
    _step(studio, 2)
    # saved a moment after the tick; the plan reads the file again each second
    qtbot.waitUntil(lambda: "1 records to train on" in plan.text(), timeout=WAIT_MS)
    assert "(2 held out for Compare)" in plan.text()
    assert _button(studio, "Start training").isEnabled()


def test_a_share_over_all_the_records_gets_its_own_hint(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Scored")
    save_records(
        project.records_path,
        [StudioRecord(f"Q{i}?", "", f"A{i}.", score=-float(i)) for i in range(4)],
    )
    studio = _studio(qtbot, window)
    side = studio.findChild(QTabWidget, "dataSide")
    assert side is not None
    click(side.tabBar(), side.tabBar().tabRect(1).center())
    click(_button(studio, "Drop the worst…"))
    type_into_dialog(qtbot, "dropWorstDialog", "150%")
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == "A share of the records is at most 100%."  # type: ignore[attr-defined]
    assert box.informativeText() == "Type a percentage up to 100%, or a number of records."  # type: ignore[attr-defined]
    assert len(_rows(studio)) == 4


def test_a_project_removed_while_open_is_saved_as_a_project_again(
    qtbot, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Short lived")
    _records(project, 2)
    studio = _studio(qtbot, window)
    assert len(_rows(studio)) == 2
    shutil.rmtree(project.folder)  # another program (or the person, in a file manager)
    click(_button(studio, "Add"))
    qtbot.keyClicks(studio.findChild(QPlainTextEdit, "record_instruction"), "Still mine?")
    saved = _label(studio, "savedStatus")
    qtbot.waitUntil(lambda: "saved at" in saved.text(), timeout=WAIT_MS)
    (again,) = list_projects()
    assert again.name == "Short lived"
    assert [r.instruction for r in load_records(again.records_path)] == [
        "Say 0 in words.",
        "Say 1 in words.",
        "Still mine?",
    ]


def _state(studio: StudioWindow) -> str:
    return _label(studio, "runState").text()


def _child_of(folder: Path) -> Owner:
    launch = json.loads((folder / runs.LAUNCH_FILE).read_text(encoding="utf-8"))
    owner = Owner.parse(launch["owner"])
    assert owner is not None
    return owner


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX signal stands for the crash")
def test_a_training_child_that_crashes_is_shown_failed_not_interrupted(
    qtbot, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Crashing", base=STARTER_ID)
    _records(project, 4)
    studio = _studio(qtbot, window)
    _step(studio, 2)
    start = _button(studio, "Start training")
    qtbot.waitUntil(start.isEnabled, timeout=WAIT_MS)
    click(start)
    (folder,) = runs.list_runs(project)
    os.kill(_child_of(folder.folder).pid, signal.SIGKILL)  # as the system does, out of memory
    qtbot.waitUntil(lambda: "failed" in _state(studio), timeout=CHILD_MS)
    assert "The training process ended unexpectedly (killed by SIGKILL)" in _state(studio)
    assert "fewer examples per step" in _state(studio)
    assert _button(studio, "Resume").isEnabled()


def test_a_second_training_is_not_resumed_beside_the_first(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    project = create_project("One at a time", base=STARTER_ID)
    _records(project, 4)
    paused = training.prepare_run(project, training.TrainOptions(STARTER_ID, max_steps=1))
    training.write_outcome(paused, runs.PAUSED, "Stopped before a checkpoint.")
    studio = _studio(qtbot, window)
    _step(studio, 2)
    start = _button(studio, "Start training")
    qtbot.waitUntil(start.isEnabled, timeout=WAIT_MS)
    click(start)
    run_list = studio.findChild(QTreeWidget, "trainingRuns")
    assert run_list is not None
    qtbot.waitUntil(lambda: run_list.topLevelItemCount() == 2, timeout=WAIT_MS)
    item = next(
        run_list.topLevelItem(i)
        for i in range(2)
        if run_list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == str(paused)
    )
    click(run_list.viewport(), run_list.visualItemRect(item).center())
    qtbot.waitUntil(lambda: "paused" in _state(studio), timeout=WAIT_MS)
    click(_button(studio, "Resume"))
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == "Another training run is going on."  # type: ignore[attr-defined]
    assert "Pause it" in box.informativeText()  # type: ignore[attr-defined]
    launch = json.loads((paused / runs.LAUNCH_FILE).read_text(encoding="utf-8"))
    assert launch["owner"] == ""  # never started


def _endpoint(qtbot, studio: StudioWindow, url: str) -> None:  # type: ignore[no-untyped-def]
    side = studio.findChild(QTabWidget, "dataSide")
    assert side is not None
    click(side.tabBar(), side.tabBar().tabRect(1).center())
    teacher = studio.findChild(QComboBox, "studioTeacher")
    assert teacher is not None
    choose_in_combo(qtbot, teacher, "openai")
    for name, text in (("teacherUrl", url), ("teacherModel", "loopback-teacher")):
        edit = studio.findChild(QLineEdit, name)
        assert edit is not None
        click(edit)
        edit.selectAll()
        qtbot.keyClicks(edit, text)


def test_bad_teacher_servers_are_said_and_a_hanging_one_stops(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Teachers")
    adopt_seed_tasks(project, write_seeds(tmp_path / "seed_tasks.jsonl", SMALL_SEEDS))
    studio = _studio(qtbot, window)
    note = _label(studio, "dataNote")

    _endpoint(qtbot, studio, "http://127.0.0.1:abc/v1")  # a port that is not a number
    click(_button(studio, "Generate"))
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == "“http://127.0.0.1:abc/v1” is not a server's URL (Invalid port: 'abc')."  # type: ignore[attr-defined]
    box.close()

    server = LoopbackTeacher().start()
    try:
        server.knobs.delay = 600  # answers nothing for ten minutes
        _endpoint(qtbot, studio, server.url)
        click(_button(studio, "Generate"))
        qtbot.waitUntil(lambda: bool(server.requests), timeout=WAIT_MS)
        click(_button(studio, "Stop"))  # the window is not frozen, and Stop is heard
        qtbot.waitUntil(lambda: note.text().startswith("Stopped"), timeout=WAIT_MS)
        assert _button(studio, "Generate").isEnabled() and _rows(studio) == []

        server.knobs.delay, server.knobs.garbage = 0, "html"  # a portal page, not an answer
        click(_button(studio, "Generate"))
        box = dialog_named(qtbot, "errorDialog")
        assert "teacher" in box.text().lower()  # type: ignore[attr-defined]
        assert "Something unexpected" not in box.text()  # type: ignore[attr-defined]
        assert "Teacher tab" in box.informativeText()  # type: ignore[attr-defined]
        assert "--" not in box.informativeText()  # type: ignore[attr-defined]  # no command's options
        assert note.text() == "It stopped with an error; what was finished is kept."
    finally:
        server.knobs.delay = 0
        server.stop()


def test_a_run_whose_folder_is_removed_stops_training(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    project = create_project("Removed run", base=STARTER_ID)
    _records(project, 4)
    studio = _studio(qtbot, window)
    _step(studio, 2)
    start = _button(studio, "Start training")
    qtbot.waitUntil(start.isEnabled, timeout=WAIT_MS)
    click(start)
    (run,) = runs.list_runs(project)
    child = _child_of(run.folder)
    qtbot.waitUntil(lambda: "going on" in _label(studio, "trainPlan").text(), timeout=WAIT_MS)
    shutil.rmtree(run.folder)  # the person deletes it in a file manager
    qtbot.waitUntil(lambda: not child.alive(), timeout=CHILD_MS)  # not training unseen
    qtbot.waitUntil(start.isEnabled, timeout=WAIT_MS)
    assert "going on" not in _label(studio, "trainPlan").text()
    assert _label(studio, "runTitle").text() == "No training run yet."
    assert not run.folder.exists()
