"""The main window with the real starter model, offscreen (pytest-qt)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from desktop.core.library import ModelLibrary
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT, greedy
from tests.helpers import text_file_named_gguf, truncated_copy
from tests.scoring import Reference

LOAD_TIMEOUT_MS = 60_000
ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot) -> Iterator[MainWindow]:
    main = MainWindow()
    qtbot.addWidget(main)
    with qtbot.waitSignal(main.model_ready, timeout=LOAD_TIMEOUT_MS):
        main.show()
    main.conversation.generation = greedy(96)
    yield main
    main.close()


def type_and_send(qtbot, window: MainWindow, text: str) -> None:
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def error_dialog(window: MainWindow) -> QMessageBox | None:
    box = window.findChild(QMessageBox, "errorDialog")
    return box if box is not None and box.isVisible() else None


def test_question_streams_the_models_answer_into_the_transcript(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as finished:
        type_and_send(qtbot, window, COUNT)
        assert window.send_button.text() == "Stop"
        assert window.composer.toPlainText() == ""
    assert len(deltas) > 3  # it arrived piece by piece
    answer = "".join(deltas).strip()
    count_reference.assert_matches(answer)  # the model's own answer
    transcript = window.chat_view.toPlainText()
    assert COUNT in transcript and answer in transcript
    assert "tok/s" in window.stats_label.text()
    assert finished.args[0].finish_reason == "stop"
    assert window.send_button.text() == "Send"
    assert window.messages == [
        {"role": "user", "content": COUNT},
        {"role": "assistant", "content": answer},
    ]


def test_shift_enter_adds_a_line_instead_of_sending(qtbot, window: MainWindow) -> None:
    qtbot.keyClicks(window.composer, "first line")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer, "second line")
    assert window.composer.toPlainText() == "first line\nsecond line"
    assert window.messages == []


def test_stop_ends_the_answer_and_the_next_question_works(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    window.conversation.generation = greedy(600)
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as finished:
        type_and_send(qtbot, window, "Write a very long story about a dragon who bakes bread.")
        qtbot.waitUntil(lambda: len(deltas) >= 5, timeout=ANSWER_TIMEOUT_MS)
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    stats = finished.args[0]
    assert stats.finish_reason == "cancelled"
    assert stats.generated_tokens < 600
    assert "(stopped)" in window.chat_view.toPlainText()

    window.new_chat()
    window.conversation.generation = greedy(96)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS):
        type_and_send(qtbot, window, COUNT)
    count_reference.assert_matches(window.messages[-1]["content"])


def test_window_stays_responsive_while_answering(qtbot, window: MainWindow) -> None:
    window.conversation.generation = greedy(200)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS) as finished:
        type_and_send(qtbot, window, "Write a long story about a lighthouse keeper.")
    timer.stop()
    assert finished.args[0].generated_tokens > 20
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10
    assert max(gaps) < 0.25, f"the GUI thread was blocked for {max(gaps):.3f} s"


def test_a_non_gguf_file_shows_a_clear_error_and_nothing_changes(
    qtbot, window: MainWindow, tmp_path: Path, count_reference: Reference
) -> None:
    before = [e.id for e in window.library.entries()]
    window.open_model_file(text_file_named_gguf(tmp_path / "notes.gguf"))
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=10_000)
    box = error_dialog(window)
    assert "not a GGUF model file" in box.text()
    assert box.informativeText()
    box.accept()
    assert [e.id for e in window.library.entries()] == before
    assert window.model_info is not None  # the loaded model is untouched
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_TIMEOUT_MS):
        type_and_send(qtbot, window, COUNT)
    count_reference.assert_matches(window.messages[-1]["content"])


def test_a_model_whose_file_went_missing_shows_an_error_and_the_app_goes_on(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(starter_path.read_bytes())
    entry = ModelLibrary().add_file(copy, name="Vanishing model")
    copy.unlink()
    window.load_model(entry)
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=LOAD_TIMEOUT_MS)
    assert "does not exist" in error_dialog(window).text()
    error_dialog(window).accept()
    assert window.model_info is None
    assert not window.send_button.isEnabled()

    truncated = truncated_copy(starter_path, tmp_path / "half.gguf")
    window.open_model_file(truncated)
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=10_000)
    assert "truncated" in error_dialog(window).text()
    error_dialog(window).accept()

    starter = window.library.get("smollm2-135m-instruct")
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_TIMEOUT_MS):
        window.load_model(starter)
    assert window.send_button.isEnabled()
