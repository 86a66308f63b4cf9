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
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
)

from conversion.quantize import quantize
from desktop.core import secrets
from desktop.core.evaluation.answer_files import load_answer_set
from desktop.core.evaluation.answering import cache_folder
from desktop.core.evaluation.items import item_key
from desktop.core.evaluation.journal import JsonLines
from desktop.core.evaluation.published import (
    BASE_URL_ENV,
    COMMIT,
    REPOSITORY,
    SELF_INSTRUCT,
    TEXT_DAVINCI_003,
)
from desktop.core.evaluation.sides import answers_folder
from desktop.core.models.library import ModelLibrary
from desktop.ui.compare.setup import (
    ADD_ENDPOINT,
    ADD_FILE,
    FILE,
    MODEL,
    PUBLISHED,
    SELF_INSTRUCT_LABEL,
    SidePicker,
)
from desktop.ui.compare.window import CompareWindow
from desktop.ui.main_window import MainWindow
from tests.evaluation.judge_server import LoopbackJudge
from tests.evaluation.raw_server import LoopbackRaw
from tests.ui.person import choose_in_combo, click, dialog_named, from_menu, pick_file

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


def type_number(qtbot, compare: CompareWindow, name: str, value: int) -> None:  # type: ignore[no-untyped-def]
    box = compare.findChild(QSpinBox, name).findChild(QLineEdit)
    click(box)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, str(value))


def choose_file(qtbot, combo: QComboBox, add: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Choose a drop-down's "… file…" entry and the file in the dialog that opens."""
    choose_in_combo(qtbot, combo, add)
    pick_file(qtbot, path)
    qtbot.waitUntil(lambda: combo.currentData() == FILE + str(path), timeout=5_000)


def pick(  # type: ignore[no-untyped-def]
    qtbot, compare: CompareWindow, first: str, second: str, prompts: Path | None,
    tokens: int = 16, limit: int = 0,
) -> None:  # fmt: skip
    """Set the page up as a person does; ``prompts`` None keeps the Self-Instruct set."""
    if first:
        choose_in_combo(qtbot, compare.findChild(SidePicker, "firstSide"), first)
    if second:
        choose_in_combo(qtbot, compare.findChild(SidePicker, "secondSide"), second)
    if prompts is not None:
        choose_file(qtbot, compare.findChild(QComboBox, "instructionSet"), ADD_FILE, prompts)
    type_number(qtbot, compare, "maxTokens", tokens)
    if limit:
        type_number(qtbot, compare, "questionLimit", limit)


def start(qtbot, compare: CompareWindow, first: str, second: str, prompts: Path) -> None:  # type: ignore[no-untyped-def]
    pick(qtbot, compare, MODEL + first, MODEL + second, prompts)
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


@pytest.fixture
def sixty_items(tmp_path: Path) -> Path:
    source = ALPACA / "user_oriented_instructions.jsonl"
    if not source.is_file():
        pytest.skip("the evaluation set ../shared/alpaca/ is not beside this checkout")
    path = tmp_path / "sixty-items.jsonl"
    path.write_text("\n".join(source.read_text(encoding="utf-8").splitlines()[:60]) + "\n")
    return path


def cached_answers() -> list[dict[str, object]]:
    """Every answer the answer cache holds (one record per answer decoded)."""
    return [r for p in cache_folder().glob("*.jsonl") for r in JsonLines(p).read()]


def test_cancel_while_answering_stops_keeps_the_answers_and_starting_again_goes_on(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    sixty_items: Path,
) -> None:
    starter = ModelLibrary().entries()[0].name
    compare = open_compare(qtbot, window)
    pick(qtbot, compare, MODEL + starter, "", sixty_items, tokens=64, limit=40)
    second = compare.findChild(SidePicker, "secondSide")
    choose_file(qtbot, second, ADD_FILE, ALPACA / "text-davinci-003_predictions.jsonl")
    progress = compare.findChild(QLabel, "answeringMessage")
    start_button = compare.findChild(QPushButton, "startComparison")
    click(start_button)
    # The first answers are in (the line counts them): the person presses Cancel.
    qtbot.waitUntil(lambda: "answers (" in progress.text(), timeout=ANSWER_MS)
    click(compare.findChild(QPushButton, "cancelAnswering"))
    said = compare.findChild(QLabel, "setupMessage")
    qtbot.waitUntil(lambda: said.isVisible() and said.text().startswith("Stopped"), timeout=60_000)
    assert compare.task is None  # the work has ended, not just the page
    (kept_file,) = answers_folder().glob("*.jsonl")
    kept = load_answer_set(kept_file)
    assert not kept.complete and 1 <= len(kept.answers) < 40, len(kept.answers)
    assert len(cached_answers()) == len(kept.answers)  # nothing decoded after the stop

    # Start again: the kept answers are not decoded again, the rest are.
    with qtbot.waitSignal(compare.session_opened, timeout=ANSWER_MS):
        click(start_button)
    assert label(compare, "itemPosition") == "Item 1 of 40"
    records = cached_answers()
    assert len(records) == 40 and len({r["key"] for r in records}) == 40
    done = {a.key: a.response for a in load_answer_set(kept_file).answers}
    assert len(done) == 40 and all(done[a.key] == a.response for a in kept.answers)


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.fixture
def published_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackRaw]:
    """raw.githubusercontent.com played on 127.0.0.1, with this test's own cache."""
    if not (ALPACA / "user_oriented_instructions.jsonl").is_file():
        pytest.skip("the evaluation set ../shared/alpaca/ is not beside this checkout")
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    files = {
        f"{REPOSITORY}/{COMMIT}/{SELF_INSTRUCT.path}": ALPACA / "user_oriented_instructions.jsonl",
        f"{REPOSITORY}/{COMMIT}/{TEXT_DAVINCI_003.path}": ALPACA
        / "text-davinci-003_predictions.jsonl",
    }
    with LoopbackRaw(files) as server:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        yield server


def test_an_endpoint_against_text_davinci_003_on_the_downloaded_set(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    published_server: LoopbackRaw,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(secrets, "_session", {})  # no keychain here: the key lives in memory
    compare = open_compare(qtbot, window)
    first = compare.findChild(SidePicker, "firstSide")
    with LoopbackJudge() as server:
        choose_in_combo(qtbot, first, ADD_ENDPOINT)
        dialog = dialog_named(qtbot, "endpointDialog")
        url = dialog.findChild(QLineEdit, "endpointUrl")
        click(url)
        qtbot.keyClicks(url, "localhost:8080")  # no scheme: refused, the dialog stays
        click(dialog.findChild(QPushButton, "addEndpoint"))
        assert "http://" in dialog.findChild(QLabel, "endpointMessage").text()
        assert dialog.isVisible()
        qtbot.keyClick(url, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(url, server.url)
        for name, text in (("endpointModel", "big-model"), ("endpointKey", "sk-typed")):
            box = dialog.findChild(QLineEdit, name)
            click(box)
            qtbot.keyClicks(box, text)
        click(dialog.findChild(QPushButton, "addEndpoint"))
        qtbot.waitUntil(lambda: first.currentText() == f"big-model at {server.url}", timeout=5_000)
        choose_in_combo(
            qtbot, compare.findChild(SidePicker, "secondSide"), PUBLISHED + "text-davinci-003"
        )
        assert compare.findChild(QComboBox, "instructionSet").currentText() == SELF_INSTRUCT_LABEL
        type_number(qtbot, compare, "questionLimit", 3)
        with qtbot.waitSignal(compare.session_opened, timeout=ANSWER_MS):
            click(compare.findChild(QPushButton, "startComparison"))
        assert label(compare, "itemPosition") == "Item 1 of 3"
        assert len(server.requests) == 3 and set(server.keys) == {"Bearer sk-typed"}
        assert {b["model"] for b in server.requests} == {"big-model"}
    assert sorted(published_server.requests) == sorted(
        f"{REPOSITORY}/{COMMIT}/{f.path}" for f in (SELF_INSTRUCT, TEXT_DAVINCI_003)
    )
    first_item = json.loads((ALPACA / "user_oriented_instructions.jsonl").open().readline())
    assert text_of(compare, "instruction").startswith(first_item["instruction"].strip())
    davinci = json.loads((ALPACA / "text-davinci-003_predictions.jsonl").open().readline())
    shown = {text_of(compare, "answerA"), text_of(compare, "answerB")}
    assert davinci["response"].strip() in shown
    assert any(text.startswith("Echo: ") for text in shown)  # the endpoint's answer


def test_offline_the_window_says_which_file_to_choose_instead(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    port = _dead_port()
    monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{port}")
    compare = open_compare(qtbot, window)
    choose_in_combo(
        qtbot, compare.findChild(SidePicker, "secondSide"), PUBLISHED + "text-davinci-003"
    )
    click(compare.findChild(QPushButton, "startComparison"))
    said = compare.findChild(QLabel, "setupMessage")
    qtbot.waitUntil(lambda: said.isVisible() and said.text() != "", timeout=60_000)
    assert said.text() == (
        f"Could not reach 127.0.0.1:{port}: choose a copy of user_oriented_instructions.jsonl "
        "with “Instruction file…”."
    )
