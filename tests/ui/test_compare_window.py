"""The Compare models window, used as a person uses it, on two different models: the starter
and a requantized variant of it (Q4_1 → Q4_0, made by llama.cpp's quantizer).

Open it from the menu, pick the sides and a small instruction set (items of Self-Instruct's
user-oriented set), vote with keys and the mouse, close the window mid-way and reopen it (the
session resumes from its file), finish, and the revealed result matches the votes. Which model
is A on each item is not asked of the window: the test recognises the answers' texts in the
answer files each side wrote."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
)

from conversion.quantize import quantize
from desktop.core.evaluation.answer_files import load_answer_set
from desktop.core.evaluation.items import item_key
from desktop.core.evaluation.sides import answers_folder
from desktop.core.models.library import ModelLibrary
from desktop.ui.compare.setup import MODEL, SidePicker
from desktop.ui.compare.window import CompareWindow
from desktop.ui.main_window import MainWindow
from tests.ui.person import choose_in_combo, click, from_menu, pick_file

ALPACA = Path(__file__).resolve().parents[2].parent / "shared" / "alpaca"
ANSWER_MS = 240_000
SECOND = "SmolLM2 Q4_0 variant"


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory, starter_path: Path) -> Path:
    out = tmp_path_factory.mktemp("variant") / "smollm2-q4_0.gguf"
    quantize(starter_path, out, "q4_0")
    return out


@pytest.fixture
def instruction_set(tmp_path: Path) -> Path:
    source = ALPACA / "user_oriented_instructions.jsonl"
    if not source.is_file():
        pytest.skip("the evaluation set ../shared/alpaca/ is not beside this checkout")
    lines = source.read_text(encoding="utf-8").splitlines()[:5]
    path = tmp_path / "five-items.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_compare(qtbot, window: MainWindow) -> CompareWindow:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "Models", "Compare models…")
    found: list[CompareWindow] = []

    def shown() -> bool:
        found[:] = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, CompareWindow) and w.isVisible()
        ]
        return bool(found)

    qtbot.waitUntil(shown, timeout=5_000)
    qtbot.waitExposed(found[0])
    return found[0]


def start(qtbot, compare: CompareWindow, first: str, second: str, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    choose_in_combo(qtbot, compare.findChild(SidePicker, "firstSide"), MODEL + first)
    choose_in_combo(qtbot, compare.findChild(SidePicker, "secondSide"), MODEL + second)
    edit = compare.findChild(QLineEdit, "instructionSet")
    click(edit)
    qtbot.keyClicks(edit, str(prompts))
    tokens = compare.findChild(QLineEdit, "qt_spinbox_lineedit")
    click(tokens)
    qtbot.keyClick(tokens, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(tokens, "16")
    with qtbot.waitSignal(compare.session_opened, timeout=ANSWER_MS):
        click(compare.findChild(QPushButton, "startComparison"))


def text_of(compare: CompareWindow, name: str) -> str:
    box = compare.findChild(QPlainTextEdit, name)
    assert box is not None and box.isVisible()
    return box.toPlainText()


def label(compare: CompareWindow, name: str) -> str:
    return compare.findChild(QLabel, name).text()


def test_compare_two_models_blind_with_keys_and_mouse_resume_and_results(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    variant: Path,
    instruction_set: Path,
    tmp_path: Path,
) -> None:
    starter = ModelLibrary().entries()[0].name
    ModelLibrary().add_managed(variant, SECOND)

    compare = open_compare(qtbot, window)
    start(qtbot, compare, starter, SECOND, instruction_set)
    assert label(compare, "itemPosition") == "Item 1 of 5"
    page = compare.findChild(QLabel, "itemPosition").parentWidget()
    on_screen = (
        compare.windowTitle()
        + " ".join(w.text() for w in page.findChildren(QLabel) + page.findChildren(QPushButton))
        + " ".join(w.title() for w in page.findChildren(QGroupBox))
    )
    assert starter not in on_screen and SECOND not in on_screen  # the names stay hidden

    # What each side answered, from the answer files the two runs wrote (the oracle).
    answers: dict[str, dict[str, str]] = {}
    for path in answers_folder().glob("*.jsonl"):
        side = load_answer_set(path)
        answers[side.name] = {a.key: a.response for a in side.answers}
    assert set(answers) == {starter, SECOND}
    questions = {
        item_key(r["instruction"], r["instances"][0]["input"]): r["instruction"]
        for r in map(json.loads, instruction_set.read_text().splitlines())
    }
    expected = {starter: [0, 0, 0], SECOND: [0, 0, 0]}  # wins, losses, ties
    differ = sum(answers[starter][k] != answers[SECOND][k] for k in questions)
    assert differ >= 2  # so A and B really are told apart below

    def current_key() -> str:
        shown = text_of(compare, "instruction").split("\n\nInput:\n")[0]
        return next(k for k, q in questions.items() if q.strip() == shown)

    def cast(how: str) -> None:
        """Vote for the side whose answer is ``how`` ("first": the starter's, "second": the
        variant's) or "tie", with the key or the mouse (alternating), as a person would."""
        key = current_key()
        a, b = text_of(compare, "answerA"), text_of(compare, "answerB")
        mine, theirs = answers[starter][key], answers[SECOND][key]
        assert {a, b} == {mine or "(no answer)", theirs or "(no answer)"}
        if how == "tie" or mine == theirs:  # identical answers: only a tie is unambiguous
            choice, winner = "T", None
        else:
            wanted = mine if how == "first" else theirs
            choice, winner = ("A" if a == wanted else "B"), (starter if how == "first" else SECOND)
        if winner is None:
            expected[starter][2] += 1
            expected[SECOND][2] += 1
        else:
            loser = SECOND if winner == starter else starter
            expected[winner][0] += 1
            expected[loser][1] += 1
        before = label(compare, "itemPosition")
        if cast.by_mouse:  # type: ignore[attr-defined]
            name = {"A": "voteA", "B": "voteB", "T": "voteTie"}[choice]
            click(compare.findChild(QPushButton, name))
        else:
            qtbot.keyClick(compare, getattr(Qt.Key, f"Key_{choice}"))
        cast.by_mouse = not cast.by_mouse  # type: ignore[attr-defined]
        assert label(compare, "itemPosition") != before or compare.results.isVisible()

    cast.by_mouse = False  # type: ignore[attr-defined]
    cast("first")  # item 1, key
    cast("second")  # item 2, mouse
    skipped = current_key()
    qtbot.keyClick(compare, Qt.Key.Key_S)  # item 3 skipped: it comes back at the end
    assert current_key() != skipped

    # Close the window mid-way; reopen it and pick the same sides and set: it resumes.
    qtbot.keyClick(compare, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.compare_window is None, timeout=5_000)
    compare = open_compare(qtbot, window)
    start(qtbot, compare, starter, SECOND, instruction_set)
    assert label(compare, "voteNotice") == "Resumed: 2 of 5 items already voted."
    assert label(compare, "itemPosition") == "Item 3 of 5"
    assert current_key() != skipped

    # A tie, taken back with Ctrl+Z, then "both bad" instead (counts as a tie).
    undone = current_key()
    qtbot.keyClick(compare, Qt.Key.Key_T)
    qtbot.keyClick(compare, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert current_key() == undone and label(compare, "itemPosition") == "Item 3 of 5"
    click(compare.findChild(QPushButton, "voteBothBad"))
    expected[starter][2] += 1
    expected[SECOND][2] += 1
    cast.by_mouse = True  # type: ignore[attr-defined]
    cast("first")  # item 4, mouse
    assert current_key() == skipped and "skipped before" in label(compare, "itemPosition")
    cast("second")  # the skipped item, key: the last one

    # Every item voted: the results show, names revealed, matching the votes.
    qtbot.waitUntil(compare.results.isVisible, timeout=5_000)
    cells = compare.results.table.toPlainText().split("\n")
    for name, (wins, losses, ties) in expected.items():
        row = cells[cells.index(name) : cells.index(name) + 7]
        rate = (wins + ties / 2) / 5
        assert row[1:4] == [str(wins), str(losses), str(ties)], (name, row, expected)
        assert row[5] == f"{rate:.1%}"
    assert "5 of 5 items voted" in label(compare, "resultsSummary")

    # Export CSV: one row per vote, the winners named as the table counts them.
    click(compare.findChild(QPushButton, "exportCsv"))
    pick_file(qtbot, tmp_path / "votes.csv")
    rows = list(csv.DictReader((tmp_path / "votes.csv").open(encoding="utf-8")))
    assert len(rows) == 5
    for name, (wins, _losses, _ties) in expected.items():
        assert sum(r["winner"] == name for r in rows) == wins
