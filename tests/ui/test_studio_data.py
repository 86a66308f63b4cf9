"""The Data step of "Make your own", used as a person: records generated through the real
self-instruct runner (the teacher a loopback OpenAI-compatible server), read, edited, deleted,
added, held out and imported in the table; bad files answered with the core's message; all of
it still there when the window is opened again."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
)

from conversion.errors import HuacayaError
from desktop.core.documents.library import Documents
from desktop.core.evaluation.published import BASE_URL_ENV, STANFORD_SEED_TASKS
from desktop.core.studio.records import import_dataset, load_records
from desktop.ui.main_window import MainWindow
from desktop.ui.studio.window import StudioWindow
from tests.documents.conftest import FakeEmbedder, corpus  # noqa: F401  (a fixture)
from tests.evaluation.conftest import ALPACA
from tests.evaluation.raw_server import LoopbackRaw
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds
from tests.ui.person import (
    WAIT_MS,
    choose,
    choose_in_combo,
    click,
    dialog_named,
    from_menu,
    pick_file,
    right_click,
    tick,
    type_into_dialog,
)
from tests.ui.studio_person import GENERATE_MS, generate, use_endpoint
from tests.ui.studio_person import button as _button
from tests.ui.studio_person import child as _child
from tests.ui.studio_person import click_cell as _click_cell
from tests.ui.studio_person import new_project as _new_project
from tests.ui.studio_person import open_studio as _studio
from tests.ui.studio_person import rows as _rows
from tests.ui.studio_person import side_tab as _side_tab
from tests.ui.studio_person import type_over as _type


def _generate(qtbot, studio: StudioWindow, server: LoopbackTeacher, seeds: Path, n: int) -> None:  # type: ignore[no-untyped-def]
    generate(qtbot, studio, server.url, seeds, n)


def _use_endpoint(qtbot, studio: StudioWindow, server: LoopbackTeacher) -> None:  # type: ignore[no-untyped-def]
    use_endpoint(qtbot, studio, server.url)


@pytest.fixture
def server() -> Iterator[LoopbackTeacher]:
    teacher = LoopbackTeacher().start()
    yield teacher
    teacher.stop()


def test_generate_edit_delete_add_import_and_find_them_again(
    qtbot, window: MainWindow, server: LoopbackTeacher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Trivia")
    table = _child(studio, QTableView, "studioRecords")
    seeds = write_seeds(tmp_path / "seed_tasks.jsonl", SMALL_SEEDS)

    _generate(qtbot, studio, server, seeds, 5)
    rows = _rows(table)
    assert len(rows) == 5 and {r[3] for r in rows} == {"seed tasks"}
    assert server.requests  # through the real runner, over HTTP
    note = _child(studio, QLabel, "dataNote").text()
    assert "Added 5 records" in note and "dropped" in note  # dropped, and why

    # Edit the second record's output by typing in the side editor.
    _click_cell(table, 1)
    _side_tab(studio, "Record")
    output = _child(studio, QPlainTextEdit, "record_output")
    assert output.toPlainText() == load_records_of(studio)[1].output  # it shows that record
    _type(qtbot, output, "A better answer, typed by hand.")
    assert _rows(table)[1][2] == "A better answer, typed by hand."

    # Delete the first, with the Delete button.
    deleted = _rows(table)[0][0]
    _click_cell(table, 0)
    click(_button(studio, "Delete"))
    assert len(_rows(table)) == 4 and deleted not in [r[0] for r in _rows(table)]

    # Add one written by hand.
    click(_button(studio, "Add"))
    qtbot.keyClicks(_child(studio, QPlainTextEdit, "record_instruction"), "Name a red fruit.")
    _type(qtbot, _child(studio, QPlainTextEdit, "record_output"), "A strawberry.")
    assert _rows(table)[-1][:4] == ["Name a red fruit.", "", "A strawberry.", "written by hand"]

    # Import a dataset file (Alpaca JSON).
    data = tmp_path / "mine.json"
    data.write_text(
        json.dumps(
            [
                {"instruction": "Say hello in French.", "input": "", "output": "Bonjour."},
                {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
            ]
        ),
        encoding="utf-8",
    )
    click(_button(studio, "Import…"))
    pick_file(qtbot, data)
    assert [r[3] for r in _rows(table)[-2:]] == ["imported: mine.json"] * 2
    assert len(_rows(table)) == 7

    # Hold one out by ticking it.
    tick(table, table.model().index(0, 5))
    assert table.model().index(0, 5).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked

    project = studio.project
    assert project is not None
    studio.close()  # saved as the window closes, before the typing pause would save it
    on_disk = load_records(project.records_path)
    assert on_disk[0].held_out and on_disk[0].output == "A better answer, typed by hand."
    again = _studio(qtbot, window)
    table = _child(again, QTableView, "studioRecords")
    rows = _rows(table)
    assert len(rows) == 7
    assert rows[0][2] == "A better answer, typed by hand." and deleted not in [r[0] for r in rows]
    assert rows[4][:4] == ["Name a red fruit.", "", "A strawberry.", "written by hand"]
    assert table.model().index(0, 5).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def load_records_of(studio: StudioWindow):  # type: ignore[no-untyped-def]
    studio.data.save_now()
    assert studio.project is not None
    return load_records(studio.project.records_path)


def test_a_bad_file_is_refused_with_the_cores_message(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Bad data")
    bad = tmp_path / "broken.json"
    bad.write_text('[{"instruction": "Fine.", "output": "ok"}, {"input": "no instruction"}]')
    with pytest.raises(HuacayaError) as expected:
        import_dataset(bad)
    click(_button(studio, "Import…"))
    pick_file(qtbot, bad)
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == expected.value.message  # type: ignore[attr-defined]
    assert box.informativeText() == (expected.value.hint or "")  # type: ignore[attr-defined]
    assert _rows(_child(studio, QTableView, "studioRecords")) == []


def test_hold_out_a_tenth_and_undo_a_deletion(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Many")
    data = tmp_path / "many.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": f"Count to {i}.", "input": "", "output": str(i)}) + "\n"
            for i in range(30)
        )
    )
    click(_button(studio, "Import…"))
    pick_file(qtbot, data)
    table = _child(studio, QTableView, "studioRecords")
    click(_button(studio, "Hold out 10%"))
    held = [
        r
        for r in range(30)
        if table.model().index(r, 5).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    ]
    assert len(held) == 3

    _click_cell(table, 0)
    qtbot.keyClick(table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    assert len(_rows(table)) == 28
    click(_button(studio, "Undo"))
    assert len(_rows(table)) == 30 and _rows(table)[0][0] == "Count to 0."

    # The context menu of a row: hold it out (or back in), delete it.
    _click_cell(table, 5)
    cell = table.visualRect(table.model().index(5, 0)).center()
    was = table.model().index(5, 5).data(Qt.ItemDataRole.CheckStateRole)
    choose(qtbot, right_click(table.viewport(), cell), "Hold out / train on")
    assert table.model().index(5, 5).data(Qt.ItemDataRole.CheckStateRole) != was
    choose(qtbot, right_click(table.viewport(), cell), "Delete")
    assert len(_rows(table)) == 29 and "Count to 5." not in [r[0] for r in _rows(table)]


def test_the_starter_as_teacher_is_said_to_be_small(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Tiny teacher")
    _side_tab(studio, "Teacher")
    teacher = _child(studio, QComboBox, "studioTeacher")
    starter = next(e for e in window.library.entries() if e.is_starter)
    choose_in_combo(qtbot, teacher, f"gguf:{starter.id}")
    advice = _child(studio, QLabel, "teacherAdvice")
    assert advice.isVisible() and "is small" in advice.text()
    choose_in_combo(qtbot, teacher, "openai")
    assert not advice.isVisible()


def _import(qtbot, studio: StudioWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    click(_button(studio, "Import…"))
    pick_file(qtbot, path)


def _scores(table: QTableView) -> list[float]:
    return [float(r[4]) for r in _rows(table)]


def test_score_answers_sort_drop_the_worst_and_undo(
    qtbot, window: MainWindow, server: LoopbackTeacher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Scored")
    data = tmp_path / "answers.jsonl"
    answers = ["ok", "Fine Then", "A Very Long Answer Indeed", "yes it is", "Maybe So Friend"]
    data.write_text(
        "".join(
            json.dumps({"instruction": f"Question {i}?", "input": "", "output": a}) + "\n"
            for i, a in enumerate(answers * 2)
        )
    )
    _import(qtbot, studio, data)
    table = _child(studio, QTableView, "studioRecords")
    _use_endpoint(qtbot, studio, server)
    note = _child(studio, QLabel, "dataNote")
    click(_button(studio, "Score answers"))
    qtbot.waitUntil(lambda: note.text().startswith("Scored 10"), timeout=GENERATE_MS)
    scores = _scores(table)
    assert len(set(scores)) > 1  # the loopback's log-probabilities differ by answer

    header = table.horizontalHeader()  # a click on the Score heading sorts by it
    heading = header.sectionViewportPosition(4) + header.sectionSize(4) // 2
    click(header.viewport(), QPoint(heading, header.height() // 2))
    shown = _scores(table)
    assert shown == sorted(scores) or shown == sorted(scores, reverse=True)

    click(_button(studio, "Drop the worst…"))
    type_into_dialog(qtbot, "dropWorstDialog", "20%")
    box = dialog_named(qtbot, "dropWorstConfirm")
    assert "2 records with the lowest scores" in box.text()  # type: ignore[attr-defined]
    click(box.button(QMessageBox.StandardButton.Yes))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: len(_rows(table)) == 8, timeout=WAIT_MS)
    assert sorted(_scores(table)) == sorted(scores)[2:]  # the two lowest are gone
    assert len(load_records_of(studio)) == 8

    click(table.viewport(), table.visualRect(table.model().index(0, 0)).center())
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(_scores(table)) == sorted(scores)  # Ctrl+Z brought them back
    assert len(load_records_of(studio)) == 10


def _index_farm(folder: Path) -> None:
    """The collection "farm": the files in ``folder``, indexed with the fake embedder."""
    documents = Documents(embedder=FakeEmbedder())  # type: ignore[arg-type]
    try:
        documents.add("farm", [folder])
        documents.index("farm")
    finally:
        documents.close()


def test_records_from_my_documents_keep_their_source(
    qtbot,
    window: MainWindow,
    server: LoopbackTeacher,
    corpus: Path,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    _index_farm(corpus)
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Grounded")
    _use_endpoint(qtbot, studio, server)
    _type(qtbot, _child(studio, QSpinBox, "generateCount").lineEdit(), "3")
    click(_button(studio, "From my documents…"))
    ask = dialog_named(qtbot, "collectionDialog")
    assert "farm" in ask.comboBoxItems()  # type: ignore[attr-defined]
    ok = next(b for b in ask.findChildren(QPushButton) if b.text() == "OK")
    click(ok)
    note = _child(studio, QLabel, "dataNote")
    qtbot.waitUntil(lambda: note.text().startswith("Added"), timeout=GENERATE_MS)
    rows = _rows(_child(studio, QTableView, "studioRecords"))
    assert 1 <= len(rows) <= 3
    files = {p.name for p in corpus.iterdir()}
    assert all(any(r[3].startswith(f) for f in files) for r in rows)  # file, page and passage


def test_switching_project_mid_run_keeps_its_records_in_their_project(
    qtbot, window: MainWindow, server: LoopbackTeacher, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "First")
    first = studio.project
    assert first is not None
    server.knobs.delay = 0.3  # a run long enough to switch during it
    _use_endpoint(qtbot, studio, server)
    click(_button(studio, "Seed tasks…"))
    pick_file(qtbot, write_seeds(tmp_path / "seed_tasks.jsonl", SMALL_SEEDS))
    _type(qtbot, _child(studio, QSpinBox, "generateCount").lineEdit(), "500")
    click(_button(studio, "Generate"))
    status = _child(studio, QLabel, "generateStatus")
    qtbot.waitUntil(
        lambda: status.text().startswith("Kept") and not status.text().startswith("Kept 0"),
        timeout=GENERATE_MS,
    )

    _new_project(qtbot, studio, "Second")  # the run stops; what it finished is First's
    start = _child(studio, QPushButton, "generateButton")
    qtbot.waitUntil(start.isVisible, timeout=GENERATE_MS)
    assert _rows(_child(studio, QTableView, "studioRecords")) == []
    kept = load_records(first.records_path)
    assert kept and {r.source for r in kept} == {"seed tasks"}


def test_stanfords_seed_tasks_download_with_a_click_and_not_offline(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    seeds = ALPACA / "seed_tasks.jsonl"
    if not seeds.is_file():
        pytest.skip("../shared/alpaca/seed_tasks.jsonl is not beside this checkout")
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    file = STANFORD_SEED_TASKS
    with LoopbackRaw({f"{file.repository}/{file.commit}/{file.path}": seeds}) as raw:
        monkeypatch.setenv(BASE_URL_ENV, raw.url)
        studio = _studio(qtbot, window)
        _new_project(qtbot, studio, "Alpaca again")
        _side_tab(studio, "Teacher")
        note = _child(studio, QLabel, "dataNote")
        click(_button(studio, "Stanford's 175"))  # Offline mode is on at first: no request
        qtbot.waitUntil(lambda: "Offline mode is on" in note.text(), timeout=WAIT_MS)
        assert raw.requests == []
        from_menu(qtbot, window, "Models", "Offline mode")  # the person turns it off
        click(_button(studio, "Stanford's 175"))
        label = _child(studio, QLabel, "seedTasks")
        qtbot.waitUntil(lambda: "175 examples" in label.text(), timeout=GENERATE_MS)
        assert "175 are ready" in note.text()
        assert raw.requests == [f"{file.repository}/{file.commit}/{file.path}"]


def _niceness(name: str) -> int | None:
    """The niceness of the thread called ``name`` while it runs (Linux), else None."""
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            try:
                return os.getpriority(os.PRIO_PROCESS, thread.native_id)
            except OSError:  # ended meanwhile
                return None
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
@pytest.mark.parametrize("source", ["seed tasks", "documents"])
def test_a_local_teacher_makes_data_at_a_lower_priority_than_the_chat(
    qtbot,
    window: MainWindow,
    tmp_path: Path,
    corpus: Path,  # noqa: F811
    source: str,
) -> None:  # type: ignore[no-untyped-def]
    """The window's chat shares the computer with a local teacher generating data in the same
    process; the teacher decodes at a lower CPU priority, so an answer keeps its pace."""
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Low priority")
    _side_tab(studio, "Teacher")
    starter = next(e for e in window.library.entries() if e.is_starter)
    choose_in_combo(qtbot, _child(studio, QComboBox, "studioTeacher"), f"gguf:{starter.id}")
    if source == "seed tasks":
        click(_button(studio, "Seed tasks…"))
        pick_file(qtbot, write_seeds(tmp_path / "seed_tasks.jsonl", SMALL_SEEDS))
        click(_button(studio, "Generate"))
    else:
        _index_farm(corpus)
        click(_button(studio, "From my documents…"))
        ask = dialog_named(qtbot, "collectionDialog")
        click(next(b for b in ask.findChildren(QPushButton) if b.text() == "OK"))
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    qtbot.waitUntil(lambda: (_niceness("huacaya-teacher") or ours) > ours, timeout=GENERATE_MS)
    click(_child(studio, QPushButton, "stopGenerating"))
    qtbot.waitUntil(_child(studio, QPushButton, "generateButton").isVisible, timeout=GENERATE_MS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
def test_a_local_teacher_scores_answers_at_a_lower_priority_than_the_chat(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Scoring with a local teacher shares the computer with the window's chat, as generating
    does: it scores on a thread of lower CPU priority."""
    studio = _studio(qtbot, window)
    _new_project(qtbot, studio, "Scored slowly")
    data = tmp_path / "answers.jsonl"
    data.write_text(  # enough answers to be seen scoring before the Stop
        "".join(
            json.dumps({"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."})
            + "\n"
            for i in range(400)
        )
    )
    _import(qtbot, studio, data)
    _side_tab(studio, "Teacher")
    starter = next(e for e in window.library.entries() if e.is_starter)
    choose_in_combo(qtbot, _child(studio, QComboBox, "studioTeacher"), f"gguf:{starter.id}")
    click(_button(studio, "Score answers"))
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    qtbot.waitUntil(lambda: (_niceness("huacaya-scorer") or ours) > ours, timeout=GENERATE_MS)
    click(_child(studio, QPushButton, "stopGenerating"))
    note = _child(studio, QLabel, "dataNote")
    qtbot.waitUntil(lambda: "Stopped" in note.text(), timeout=GENERATE_MS)
