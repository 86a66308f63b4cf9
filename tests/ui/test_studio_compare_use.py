"""The "Make your own" window's Compare and Use steps, as a person, on a real (tiny) LoRA of the
starter model: add the run to my models, see it in the main window's list, chat with it; compare
it blindly with its base on held-out records, vote, read the result."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QSpinBox, QTabWidget, QWidget

from desktop.core.chat.engine import ChatEngine
from desktop.core.models.library import ModelLibrary
from desktop.core.models.starter import STARTER_ID
from desktop.core.studio.finished import exports
from desktop.core.studio.project import StudioProject, create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.ui.compare.window import CompareWindow
from desktop.ui.main_window import MainWindow
from desktop.ui.studio.window import StudioWindow
from tests.conftest import COUNT, greedy, scratch_folder
from tests.scoring import greedy_reference
from tests.ui.conftest import LOAD_MS, ask
from tests.ui.person import click, from_menu

W = TypeVar("W", bound=QWidget)
EXPORT_MS = 300_000  # a conversion and the import job's check, on a shared 2-core machine
ANSWER_MS = 180_000
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


def _studio(qtbot, window: MainWindow, step: str) -> StudioWindow:
    from_menu(qtbot, window, "Models", "Make your own model…")
    studio = window.studio_window
    assert isinstance(studio, StudioWindow)
    qtbot.waitExposed(studio)
    steps = _child(studio, QTabWidget, "studioSteps")
    bar = steps.tabBar()
    index = next(i for i in range(steps.count()) if steps.tabText(i).endswith(step))
    click(bar, bar.tabRect(index).center())
    assert steps.currentIndex() == index
    return studio


def _child(widget: QWidget, kind: type[W], name: str) -> W:
    found = widget.findChild(kind, name)
    assert found is not None, name
    return found


def _button(widget: QWidget, text: str) -> QPushButton:
    found = [b for b in widget.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert len(found) == 1, [b.text() for b in widget.findChildren(QPushButton)]
    return found[0]


@pytest.mark.timeout(900)
def test_add_the_run_to_my_models_and_chat_with_it(
    qtbot, window: MainWindow, trained_run: Path
) -> None:
    project = _project(trained_run)
    studio = _studio(qtbot, window, "Use")
    use = studio.use
    runs = use.runs
    assert runs.count() == 1 and "LoRA, 2 steps, final loss" in runs.currentText()
    assert use.quantization.currentData() == "q8_0"
    assert _child(use, QLineEdit, "useName").text() == "Cooking assistant"
    chat = _button(use, "Chat with it")
    assert not chat.isEnabled()  # nothing to chat with before it is added
    assert "not in your models yet" in _child(use, QLabel, "useState").text()

    models_before = {e.id for e in ModelLibrary().entries()}
    bar = use.panel.bar
    click(_button(use, "Add to my models"))  # then changed my mind, once it is under way
    assert not _button(use, "Add to my models").isEnabled()
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=EXPORT_MS)
    with qtbot.waitSignal(use.panel.ended, timeout=EXPORT_MS):
        click(_button(use, "Cancel"))
    assert "Cancelled: nothing was added" in _child(use, QLabel, "exportMessage").text()
    assert {e.id for e in ModelLibrary().entries()} == models_before
    assert exports(project) == [] and not chat.isEnabled()
    assert not list((project.runs_dir / "first-run").glob(".export-*"))  # no half files left

    with qtbot.waitSignal(use.panel.ended, timeout=EXPORT_MS):
        click(_button(use, "Add to my models"))
    said = _child(use, QLabel, "exportMessage").text()
    assert "Added to your models as “Cooking assistant” (Q8_0)" in said, said
    (export,) = exports(project)
    assert export.run == "first-run" and export.quantization == "q8_0"
    entry = ModelLibrary().get(export.model_id)
    assert entry.name == "Cooking assistant"

    picker = window.model_picker  # the main window's list, without a restart
    qtbot.waitUntil(lambda: picker.findData(export.model_id) >= 0, timeout=10_000)
    assert chat.isEnabled()
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        click(chat)
    assert window.model_entry.id == export.model_id

    answer = ask(qtbot, window, COUNT)
    engine = ChatEngine(ModelLibrary().path_of(entry), context_length=2048)
    engine.load()
    try:  # what the same model file answers, asked alone in this run
        reference = greedy_reference(engine, [{"role": "user", "content": COUNT}], greedy(64), 1)
    finally:
        engine.close()
    reference.assert_matches(answer)

    studio.close()  # shown again later, the run is still known as that model
    again = _studio(qtbot, window, "Use")
    assert "in your models as “Cooking assistant” (Q8_0)" in again.use.state.text()


@pytest.mark.timeout(900)
def test_compare_the_fine_tune_with_its_base_on_held_out_records(
    qtbot, window: MainWindow, trained_run: Path
) -> None:
    _project(trained_run, held_out=2)
    studio = _studio(qtbot, window, "Compare")
    compare = studio.compare
    start = _button(compare, "Compare blindly…")
    assert compare.held_out.isChecked() and compare.held_out.text().endswith("(2)")
    assert not start.isEnabled()  # the run cannot answer before it is in my models
    assert "not in your models yet" in _child(compare, QLabel, "compareSides").text()

    with qtbot.waitSignal(compare.panel.ended, timeout=EXPORT_MS):
        click(_button(compare, "Add to my models (Q8_0)"))
    sides = _child(compare, QLabel, "compareSides").text()
    assert "SmolLM2 135M Instruct (starter)" in sides and "Cooking assistant" in sides, sides
    assert start.isEnabled()
    box = _child(compare, QSpinBox, "compareMaxTokens").findChild(QLineEdit)
    assert box is not None
    click(box)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "16")

    click(start)
    window_ = compare.compare_window
    assert isinstance(window_, CompareWindow)
    qtbot.waitUntil(lambda: window_.session is not None, timeout=ANSWER_MS)
    qtbot.waitExposed(window_)
    session = window_.session
    assert session is not None
    held_out = [p.item.instruction for p in session.pairs]
    assert held_out == [RECORDS[0][0], RECORDS[1][0]]  # the two held-out records
    assert [s.name for s in session.sides] == [
        "SmolLM2 135M Instruct (starter)",
        "Cooking assistant",
    ]

    shown = session.current()
    assert shown is not None
    fine_tune_is_a = session.swapped(shown.item.key)
    qtbot.keyClick(window_, Qt.Key.Key_A)  # the first item: A wins
    qtbot.keyClick(window_, Qt.Key.Key_T)  # the second: a tie
    assert session.finished
    wins, losses = (1, 0) if fine_tune_is_a else (0, 1)
    result = _child(compare, QLabel, "compareResult").text()
    assert result.startswith("Done: the fine-tune “Cooking assistant”"), result
    assert f"won {wins}, lost {losses} and tied 1" in result, result
    window_.close()

    # the person's own prompts, typed one per line, are another comparison
    click(compare.prompts)
    qtbot.keyClicks(compare.prompts, "Name the days of the week.")
    qtbot.keyClick(compare.prompts, Qt.Key.Key_Return)
    qtbot.keyClicks(compare.prompts, "Count from 1 to 10.")
    assert compare.typed.isChecked()
    click(start)
    typed = compare.compare_window
    assert isinstance(typed, CompareWindow) and typed is not window_
    qtbot.waitUntil(lambda: typed.session is not None, timeout=ANSWER_MS)
    assert typed.session is not None
    assert [p.item.instruction for p in typed.session.pairs] == [
        "Name the days of the week.",
        "Count from 1 to 10.",
    ]
    assert "Vote in the Compare models window: 2 items" in compare.result.text()
    typed.close()
