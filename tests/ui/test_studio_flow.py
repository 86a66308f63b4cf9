"""The whole "Make your own" flow in one go, as a person, on the installed starter model with
Offline mode on and no connection but to 127.0.0.1: Models → Make your own model…, a new
project, five records generated (the teacher a loopback OpenAI-compatible server, through the
real self-instruct runner), one edited, a LoRA of two steps trained, base and fine-tune compared
blindly, the fine-tune added to my models and chatted with in the main window, without a
restart.

What the step tests check besides (pause and resume, a run interrupted by quitting, cancelling
an export, importing and scoring records) stays in test_studio_{data,train,compare_use}.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QSpinBox,
    QTableView,
    QTreeWidget,
)

from desktop.core.chat.engine import ChatEngine
from desktop.core.studio import runs
from desktop.core.studio.finished import exports
from desktop.core.studio.records import load_records
from desktop.ui.compare.window import CompareWindow
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT, greedy
from tests.hub_server import NoNetwork
from tests.openai_server import LoopbackTeacher
from tests.scoring import greedy_reference
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds
from tests.ui.conftest import LOAD_MS, ask
from tests.ui.person import WAIT_MS, click, dialog_named, tick
from tests.ui.studio_person import (
    button,
    child,
    choose_a_short_lora,
    choose_step,
    click_cell,
    generate,
    new_project,
    open_studio,
    rows,
    side_tab,
    type_over,
)

pytestmark = pytest.mark.timeout(900)  # a real training run and export on a shared 2-core CPU
RUN_MS = 300_000  # the training child: torch, the base (made once from the starter GGUF), 2 steps
EXPORT_MS = 300_000  # the conversion and the import job's check
ANSWER_MS = 180_000
EDITED = "Fish, rice and a squeeze of lemon: a dinner typed by hand."
HELD_OUT = 5  # the Held out column of the records table
LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture
def teacher() -> Iterator[LoopbackTeacher]:
    server = LoopbackTeacher().start()
    yield server
    server.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, no_network: NoNetwork) -> list[object]:
    """Every address this process connects a socket to (the children run in Offline mode, with
    the Hub's address unresolvable)."""
    seen: list[object] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        seen.append(address)
        real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_data_train_compare_and_chat_with_my_own_model(
    qtbot,
    window: MainWindow,
    teacher: LoopbackTeacher,
    connections: list[object],
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    assert window.menu_actions.offline.isChecked()  # as installed: Offline mode on

    # 1 Data: a new project, five records from the teacher, one edited by hand.
    studio = open_studio(qtbot, window)
    new_project(qtbot, studio, "Dinner ideas")
    project = studio.project
    assert project is not None
    table = child(studio, QTableView, "studioRecords")
    generate(qtbot, studio, teacher.url, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS), 5)
    assert len(rows(table)) == 5 and teacher.requests
    click_cell(table, 2)
    side_tab(studio, "Record")
    type_over(qtbot, child(studio, QPlainTextEdit, "record_output"), EDITED)
    assert rows(table)[2][2] == EDITED
    for row in (0, 1):  # two held out, to compare on
        tick(table, table.model().index(row, HELD_OUT))
    qtbot.waitUntil(  # saved a moment after the typing stops
        lambda: (
            [(r.output == EDITED, r.held_out) for r in load_records(project.records_path)]
            == [(False, True), (False, True), (True, False), (False, False), (False, False)]
        ),
        timeout=WAIT_MS,
    )
    held_out = [r.instruction for r in load_records(project.records_path)[:2]]

    # 2 Train: a LoRA of two steps on the starter model, the project's base by default.
    choose_step(studio, "Train")
    plan = child(studio, QLabel, "trainPlan")
    qtbot.waitUntil(lambda: "3 records to train on" in plan.text(), timeout=WAIT_MS)
    # the teacher's records are longer than the Train step test's: the Alpaca prompt alone
    # takes 60 tokens
    choose_a_short_lora(qtbot, studio, steps=2, every=1000, longest=256)
    start = button(studio, "Start training")
    qtbot.waitUntil(start.isEnabled, timeout=WAIT_MS)  # once the devices are known
    click(start)
    state = child(studio, QLabel, "runState")
    ended = ("finished", "failed", "paused", "interrupted")
    qtbot.waitUntil(lambda: any(word in state.text() for word in ended), timeout=RUN_MS)
    (folder,) = [p for p in project.runs_dir.iterdir() if not p.name.startswith(".")]
    assert "finished" in state.text(), f"{state.text()}\n{runs.log_tail(folder)}"
    trained_on = json.loads((folder / ".data.json").read_text(encoding="utf-8"))
    assert EDITED in [r["output"] for r in trained_on] and len(trained_on) == 3
    run_list = child(studio, QTreeWidget, "trainingRuns")
    run_name = run_list.topLevelItem(0).text(0)  # “5 Dec 04:14”
    assert run_list.topLevelItem(0).text(2) == "finished"

    # 3 Compare: added to my models, then base against fine-tune, blind, on the held-out two.
    choose_step(studio, "Compare")
    compare = studio.compare
    assert child(compare, QComboBox, "compareRun").currentText().startswith(f"{run_name} — ")
    start = button(compare, "Compare blindly…")
    assert not start.isEnabled()  # the fine-tune cannot answer before it is in my models
    assert "not in your models yet" in child(compare, QLabel, "compareSides").text()
    click(button(compare, "Add to my models (Q8_0)"))
    added = child(compare, QLabel, "exportMessage")
    qtbot.waitUntil(lambda: added.text().startswith("Added to your models"), timeout=EXPORT_MS)
    sides = child(compare, QLabel, "compareSides").text()
    assert "SmolLM2 135M Instruct (starter)" in sides and "“Dinner ideas”" in sides, sides
    type_over(qtbot, child(compare, QSpinBox, "compareMaxTokens").lineEdit(), "16")
    assert compare.held_out.text().endswith("(2)") and compare.held_out.isChecked()
    click(start)
    voting = compare.compare_window
    assert isinstance(voting, CompareWindow)
    qtbot.waitUntil(lambda: voting.session is not None, timeout=ANSWER_MS)
    qtbot.waitExposed(voting)
    session = voting.session
    assert session is not None
    assert [p.item.instruction for p in session.pairs] == held_out
    shown = session.current()
    assert shown is not None
    fine_tune_is_a = session.swapped(shown.item.key)  # which side A was, to read the result
    qtbot.keyClick(voting, Qt.Key.Key_A)  # the first pair: A is better
    qtbot.keyClick(voting, Qt.Key.Key_T)  # the second: a tie
    result = child(compare, QLabel, "compareResult").text()
    wins, losses = (1, 0) if fine_tune_is_a else (0, 1)
    assert result.startswith("Done: the fine-tune “Dinner ideas”"), result
    assert f"won {wins}, lost {losses} and tied 1" in result, result
    voting.close()
    typed = child(compare, QPlainTextEdit, "comparePrompts")  # my own prompts, one per line
    click(typed.viewport())
    qtbot.keyClicks(typed, "Name the days of the week.")
    qtbot.keyClick(typed, Qt.Key.Key_Return)
    qtbot.keyClicks(typed, "Count from 1 to 10.")
    assert compare.typed.isChecked()
    click(start)
    mine = compare.compare_window
    assert isinstance(mine, CompareWindow) and mine is not voting
    qtbot.waitUntil(lambda: mine.session is not None, timeout=ANSWER_MS)
    assert mine.session is not None
    assert [p.item.instruction for p in mine.session.pairs] == [
        "Name the days of the week.",
        "Count from 1 to 10.",
    ]
    assert "Vote in the Compare models window: 2 items" in compare.result.text()
    mine.close()

    # 4 Use: the same name again is refused; "Chat with it" brings the chat forward with it.
    choose_step(studio, "Use")
    use = studio.use
    assert child(use, QComboBox, "useRun").currentText().startswith(f"{run_name} — ")
    assert "in your models as “Dinner ideas” (Q8_0)" in child(use, QLabel, "useState").text()
    models_before = [(e.id, e.name) for e in window.library.entries()]
    click(button(use, "Add to my models"))
    refused = dialog_named(qtbot, "errorDialog")
    assert isinstance(refused, QMessageBox)
    assert "A model called “Dinner ideas” is already in your models" in refused.text()
    assert "Choose another name" in refused.informativeText()
    click(refused.button(QMessageBox.StandardButton.Ok))
    assert [(e.id, e.name) for e in window.library.entries()] == models_before

    (export,) = exports(project)
    picker = window.model_picker
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        click(button(use, "Chat with it"))
    assert picker.currentData() == export.model_id and picker.currentText() == "Dinner ideas"
    assert QApplication.activeWindow() is window  # the chat is in front, the studio behind
    assert studio.isVisible()
    answer = ask(qtbot, window, COUNT)
    assert answer.strip()
    path = window.library.path_of(window.library.get(export.model_id))
    engine = ChatEngine(path, context_length=2048)
    engine.load()
    try:  # what the same model file answers, asked alone in this run
        reference = greedy_reference(engine, [{"role": "user", "content": COUNT}], greedy(64), 1)
    finally:
        engine.close()
    reference.assert_matches(answer)

    studio.close()  # opened again later, the run is still known as that model
    again = open_studio(qtbot, window, "Use")
    assert "in your models as “Dinner ideas” (Q8_0)" in child(again.use, QLabel, "useState").text()

    outside = [a for a in connections if isinstance(a, tuple) and a[0] not in LOOPBACK]
    assert outside == [] and connections  # the teacher's requests, and nothing else
