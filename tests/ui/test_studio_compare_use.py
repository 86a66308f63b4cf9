"""The "Make your own" window's Compare and Use steps, as a person, in the cases the whole flow
(test_studio_flow.py: added to my models, compared blindly, chatted with) does not meet: an
export cancelled half-way adds nothing; a name already in my models is refused before any work;
"Chat with it" brings the main window forward; every step calls a run by the same name; Compare,
greyed, says why and what to do."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QTreeWidget,
)

from desktop.core.jobs.store import JobStore
from desktop.core.models.library import ModelLibrary
from desktop.core.models.starter import STARTER_ID
from desktop.core.studio.finished import Export, exports, remember
from desktop.core.studio.project import StudioProject, create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.ui.main_window import MainWindow
from tests.conftest import scratch_folder
from tests.ui.conftest import LOAD_MS
from tests.ui.person import click, dialog_named, from_menu
from tests.ui.studio_person import (
    button,
    child,
    choose_step,
    open_studio,
    radio,
    scroll_to,
    type_over,
)

EXPORT_MS = 300_000  # a conversion and the import job's check, on a shared 2-core machine
RECORDS = [
    ("Name three primary colours.", "", "Red, blue and yellow."),
    ("Give a synonym for happy.", "", "Joyful."),
    ("Translate to French.", "Good morning", "Bonjour."),
    ("What is two plus two?", "", "Four."),
    ("Name a fruit that is yellow.", "", "A banana."),
    ("Spell the word cat backwards.", "", "tac"),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, starter_path: Path) -> Iterator[Path]:
    """A finished LoRA run on the starter model (its GGUF made into a checkpoint, as the Train
    step does): two steps of 64 tokens, a learning rate large enough to move the model."""
    from conversion.train.gguf_base import checkpoint_from_gguf
    from conversion.train.recipe import TrainConfig
    from conversion.train.run import train

    with scratch_folder(tmp_path_factory, "studio-run") as folder:
        base = checkpoint_from_gguf(starter_path, folder / "bases")
        data = folder / "data.json"
        records = [{"instruction": i, "input": n, "output": o} for i, n, o in RECORDS]
        data.write_text(json.dumps(records), encoding="utf-8")
        config = TrainConfig(
            base=str(base.checkpoint),
            data=str(data),
            out=str(folder / "run"),
            lora=True,
            max_steps=2,
            max_length=64,
            global_batch=4,
            learning_rate=1e-2,
            threads=2,
            base_source=STARTER_ID,
        )
        train(config)
        shutil.rmtree(folder / "run" / "checkpoints", ignore_errors=True)
        yield folder / "run"


def _project(run: Path, held_out: int = 0) -> StudioProject:
    project = create_project("Cooking assistant", base=STARTER_ID)
    shutil.copytree(run, project.runs_dir / "first-run")
    records = [
        StudioRecord(i, n, o, held_out=index < held_out) for index, (i, n, o) in enumerate(RECORDS)
    ]
    save_records(project.records_path, records)
    return project


@pytest.mark.timeout(900)
def test_an_export_cancelled_half_way_adds_nothing(
    qtbot, window: MainWindow, trained_run: Path
) -> None:
    project = _project(trained_run)
    use = open_studio(qtbot, window, "Use").use
    runs = use.runs
    assert runs.count() == 1 and "LoRA, 2 steps, final loss" in runs.currentText()
    assert use.quantization.currentData() == "q8_0"
    assert child(use, QLineEdit, "useName").text() == "Cooking assistant"
    chat = button(use, "Chat with it")
    assert not chat.isEnabled()  # nothing to chat with before it is added
    assert "not in your models yet" in child(use, QLabel, "useState").text()

    models_before = {e.id for e in ModelLibrary().entries()}
    bar = use.panel.bar
    click(button(use, "Add to my models"))  # then changed my mind, once it is under way
    assert not button(use, "Add to my models").isEnabled()
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=EXPORT_MS)
    with qtbot.waitSignal(use.panel.ended, timeout=EXPORT_MS):
        click(button(use, "Cancel"))
    assert "Cancelled: nothing was added" in child(use, QLabel, "exportMessage").text()
    assert {e.id for e in ModelLibrary().entries()} == models_before
    assert exports(project) == [] and not chat.isEnabled()
    assert not list((project.runs_dir / "first-run").glob(".export.*"))  # no half files left


@pytest.mark.timeout(900)
def test_quitting_mid_export_leaves_nothing_half_made(
    qtbot, window: MainWindow, trained_run: Path
) -> None:
    """File → Quit while the run is being added (the import job quantizing and checking it in
    its own process): both windows stay, painting and saying what they wait for, while the
    export stops and its files go; then they close, and the next start finds no trace."""
    project = _project(trained_run)
    studio = open_studio(qtbot, window, "Use")
    use = studio.use
    models_before = {e.id for e in ModelLibrary().entries()}
    click(button(use, "Add to my models"))
    bar = use.panel.bar
    qtbot.waitUntil(lambda: bar.value() > 450, timeout=EXPORT_MS)  # the import job's part
    importing = [p for p in psutil.Process().children(recursive=True) if "import" in p.cmdline()]
    assert importing, "the import job runs in a child process"
    # The starter's import takes a second or two: held still while the menus are opened, so
    # that Quit finds it under way on any machine, and let go once Quit has asked it to stop.
    for job in importing:
        job.suspend()
    threading.Timer(2.0, lambda: [job.resume() for job in importing]).start()
    from_menu(qtbot, window, "File", "Quit")
    assert window.isVisible() and studio.isVisible()  # not frozen in a wait: still painting
    assert window.statusBar().currentMessage() == "Stopping the export before closing…"
    assert child(use, QLabel, "exportMessage").text() == "Stopping…"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=EXPORT_MS)
    assert not studio.isVisible()  # Quit closes both windows

    # Nothing of it goes on once the app has quit …
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in importing)
    # … and nothing half-made is left: in my models, beside the run, in the model jobs.
    assert {e.id for e in ModelLibrary().entries()} == models_before
    assert exports(project) == []
    run = project.runs_dir / "first-run"
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".export")) == []
    models = ModelLibrary().root
    assert [p.name for p in models.rglob("*") if p.name.endswith((".partial", ".tmp"))] == []
    assert JobStore().all() == []  # no interrupted import offered at the next start


RUN = "2026-12-05 041427"  # a run folder's name: when it started (training.new_run_folder)


def _finished_run(project: StudioProject) -> Path:
    """What a finished two-step LoRA run leaves in its folder, as the steps read it (its adapter's
    weights aside: these tests never get as far as converting them)."""
    folder = project.runs_dir / RUN
    (folder / "model").mkdir(parents=True)
    launch = {"options": {"full": False}, "arguments": [], "records": 6, "total_steps": 2}
    (folder / ".launch.json").write_text(json.dumps(launch), encoding="utf-8")
    manifest = {
        "status": "finished",
        "finished_at": "2026-12-05T04:15:00Z",
        "steps": 2,
        "final_loss": 1.5,
        "arguments": {"lora": True, "base": str(folder / "no-base"), "base_source": STARTER_ID},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_name_already_in_my_models_is_refused_before_any_work(
    qtbot, window: MainWindow, starter_path: Path
) -> None:
    project = create_project("Cooking assistant", base=STARTER_ID)
    _finished_run(project)
    installed = window.library.add_file(starter_path, "Cooking assistant")
    models_before = [(e.id, e.name) for e in window.library.entries()]
    use = open_studio(qtbot, window, "Use").use
    type_over(qtbot, child(use, QLineEdit, "useName"), "cooking  ASSISTANT")
    click(button(use, "Add to my models"))
    box = dialog_named(qtbot, "errorDialog")
    assert isinstance(box, QMessageBox)
    assert box.text() == f"A model called “{installed.name}” is already in your models."
    assert box.informativeText().startswith("Choose another name for this one")
    assert not use.panel.busy and "Adding" not in child(use, QLabel, "exportMessage").text()
    click(box.button(QMessageBox.StandardButton.Ok))
    assert [(e.id, e.name) for e in window.library.entries()] == models_before
    assert exports(project) == []

    type_over(qtbot, child(use, QLineEdit, "useName"), "Cooking assistant, take two")
    click(button(use, "Add to my models"))  # another name goes ahead (and meets the next check)
    box = dialog_named(qtbot, "errorDialog")
    assert isinstance(box, QMessageBox) and "base model this LoRA was trained on" in box.text()


def test_chat_with_it_brings_the_main_window_forward(
    qtbot, window: MainWindow, starter_path: Path
) -> None:
    project = create_project("Cooking assistant", base=STARTER_ID)
    _finished_run(project)
    entry = window.library.add_file(starter_path, "Cooking assistant")
    remember(project, Export(RUN, entry.id, entry.name, "q4_1", "2026-12-05T04:20:00Z"))
    studio = open_studio(qtbot, window, "Use")
    assert QApplication.activeWindow() is studio
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        click(button(studio.use, "Chat with it"))
    assert window.model_picker.currentData() == entry.id
    assert QApplication.activeWindow() is window  # the chat that just loaded it, in front
    assert studio.isVisible()  # the studio stays open, behind
    # Not transient for the main window either: window managers (and Windows, for an owned
    # window) keep a transient window above its parent, whatever is raised.
    handle = studio.windowHandle()
    assert handle is not None and handle.transientParent() is None


def test_every_step_calls_a_run_by_the_same_name(qtbot, window: MainWindow) -> None:
    project = create_project("Cooking assistant", base=STARTER_ID)
    _finished_run(project)
    studio = open_studio(qtbot, window, "Train")
    runs = child(studio, QTreeWidget, "trainingRuns")
    qtbot.waitUntil(lambda: runs.topLevelItemCount() == 1, timeout=5_000)
    name = runs.topLevelItem(0).text(0)
    assert name.startswith("5 Dec") and name.endswith("04:14"), name  # when it started
    choose_step(studio, "Compare")
    assert child(studio.compare, QComboBox, "compareRun").currentText().startswith(f"{name} — ")
    choose_step(studio, "Use")
    assert child(studio.use, QComboBox, "useRun").currentText().startswith(f"{name} — ")


def test_compare_greyed_says_why_until_something_is_held_out(
    qtbot, window: MainWindow, starter_path: Path
) -> None:
    project = create_project("Cooking assistant", base=STARTER_ID)
    save_records(project.records_path, [StudioRecord(i, n, o) for i, n, o in RECORDS])
    _finished_run(project)
    entry = window.library.add_file(starter_path, "Cooking assistant")
    remember(project, Export(RUN, entry.id, entry.name, "q4_1", "2026-12-05T04:20:00Z"))
    studio = open_studio(qtbot, window, "Compare")
    compare = button(studio.compare, "Compare blindly…")
    why = child(studio.compare, QLabel, "compareWhyNot")
    assert radio(studio.compare, "The project's held-out records (0)").isChecked()
    assert not compare.isEnabled()
    assert why.isVisible() and why.text().startswith("No record is held out")
    assert "Hold out some records in step 1, Data" in why.text()
    assert "type your own prompts" in why.text()

    choose_step(studio, "Data")  # as the sentence says
    click(button(studio.data, "Hold out 10%"))
    choose_step(studio, "Compare")
    assert radio(studio.compare, "The project's held-out records (1)").isChecked()
    assert compare.isEnabled() and not why.isVisible()

    own = radio(studio.compare, "My own prompts, one per line:")  # the other way it offers
    scroll_to(own)
    click(own, QPoint(own.iconSize().width() // 2 + 2, own.height() // 2))  # on its circle
    assert own.isChecked()
    assert not compare.isEnabled() and why.text() == "Type at least one prompt above, one per line."
    assert why.isVisible()
    type_over(qtbot, child(studio.compare, QPlainTextEdit, "comparePrompts"), "Make a soup.")
    assert compare.isEnabled() and not why.isVisible()
