"""The main window with the real starter model, offscreen, driven with the mouse and keyboard."""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from desktop.core.history.store import History
from desktop.core.models.library import ModelLibrary
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT
from tests.helpers import text_file_named_gguf, truncated_copy
from tests.scoring import Reference
from tests.ui.conftest import ANSWER_MS, LOAD_MS, ask, open_window, type_and_send
from tests.ui.person import choose_in_combo, click, from_menu, pick_file

STORY = "Write a very long story about a dragon who bakes bread."


def error_dialog(window: MainWindow) -> QMessageBox | None:
    box = window.findChild(QMessageBox, "errorDialog")
    return box if box is not None and box.isVisible() else None


def long_answers(window: MainWindow, max_tokens: int = 600) -> None:
    generation = window.conversation.session.generation
    generation.max_tokens = max_tokens


def test_question_streams_the_models_answer_into_the_transcript(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS) as finished:
        type_and_send(qtbot, window, COUNT)
        assert window.send_button.text() == "Stop"
        assert window.composer.toPlainText() == ""
        assert window.stats_label.text() == "Thinking…"
    assert len(deltas) > 3  # it arrived piece by piece
    answer = "".join(deltas).strip()
    count_reference.assert_matches(answer)  # the model's own answer
    transcript = window.chat_view.toPlainText()
    assert COUNT in transcript and answer in transcript
    assert "tok/s" in window.stats_label.text()
    assert finished.args[0].finish_reason == "stop"
    assert window.send_button.text() == "Send"
    assert [(m.role, m.content) for m in window.messages] == [
        ("user", COUNT),
        ("assistant", answer),
    ]
    threads = window.model_info.threads
    assert window.status_label.text().endswith(f"{threads} thread{'' if threads == 1 else 's'}")


def test_shift_enter_adds_a_line_instead_of_sending(qtbot, window: MainWindow) -> None:
    click(window.composer)
    qtbot.keyClicks(window.composer, "first line")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer, "second line")
    assert window.composer.toPlainText() == "first line\nsecond line"
    assert window.messages == []
    assert window.composer.height() > 2 * window.composer.fontMetrics().lineSpacing()
    window.composer.clear()
    assert window.composer.height() < 3 * window.composer.fontMetrics().lineSpacing() + 20


def test_the_stop_button_ends_the_answer_and_the_next_question_works(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    long_answers(window)
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS) as finished:
        type_and_send(qtbot, window, STORY)
        qtbot.waitUntil(lambda: len(deltas) >= 5, timeout=ANSWER_MS)
        assert window.stats_label.text() == "Answering…"
        click(window.send_button)
    stats = finished.args[0]
    assert stats.finish_reason == "cancelled"
    assert stats.generated_tokens < 600
    assert "(stopped)" in window.chat_view.toPlainText()
    stored = window.history.messages(window.conversation.conversation_id)
    assert stored[-1].stats["finish_reason"] == "cancelled"  # kept, marked as stopped

    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    window.conversation.session.generation.max_tokens = 64
    ask(qtbot, window, COUNT)
    count_reference.assert_matches(window.messages[-1].content)


def test_esc_right_after_enter_stops_before_the_first_token(qtbot, window: MainWindow) -> None:
    long_answers(window)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS) as finished:
        type_and_send(qtbot, window, STORY)
        qtbot.keyClick(window.composer, Qt.Key.Key_Escape)  # before the engine thread started
    stats = finished.args[0]
    assert stats.finish_reason == "cancelled"
    assert stats.generated_tokens <= 1


def test_window_stays_responsive_while_answering(qtbot, window: MainWindow) -> None:
    window.conversation.session.generation.max_tokens = 200
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS) as finished:
        type_and_send(qtbot, window, "Write a long story about a lighthouse keeper.")
    timer.stop()
    assert finished.args[0].generated_tokens > 20
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10
    assert max(gaps) < 0.25, f"the GUI thread was blocked for {max(gaps):.3f} s"


def open_model_file_from_the_menu(qtbot, window: MainWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "File", "Open model file…")
    pick_file(qtbot, path)


def test_a_non_gguf_file_shows_a_clear_error_and_nothing_changes(
    qtbot, window: MainWindow, tmp_path: Path, count_reference: Reference
) -> None:
    before = [e.id for e in window.library.entries()]
    open_model_file_from_the_menu(qtbot, window, text_file_named_gguf(tmp_path / "notes.gguf"))
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=10_000)
    box = error_dialog(window)
    assert "not a GGUF model file" in box.text()
    assert box.informativeText()
    box.accept()
    assert [e.id for e in window.library.entries()] == before
    assert window.model_info is not None  # the loaded model is untouched
    ask(qtbot, window, COUNT)
    count_reference.assert_matches(window.messages[-1].content)


def test_opening_a_copy_of_an_installed_model_adds_nothing_and_says_so(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "starter-copy.gguf"
    shutil.copyfile(starter_path, copy)
    before = [e.id for e in window.library.entries()]
    statuses: list[str] = []
    window.models.status.connect(statuses.append)
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        open_model_file_from_the_menu(qtbot, window, copy)
    assert [e.id for e in window.library.entries()] == before
    assert window.model_entry.is_starter
    assert any("installed already, as SmolLM2 135M Instruct (starter)" in s for s in statuses)


def test_a_model_whose_file_went_missing_shows_an_error_and_the_app_goes_on(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(starter_path.read_bytes())
    entry = ModelLibrary().add_file(copy, name="Vanishing model")
    copy.unlink()
    window.models.on_library_changed()
    picker = window.model_picker
    choose_in_combo(qtbot, picker, entry.id)
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=LOAD_MS)
    assert "does not exist" in error_dialog(window).text()
    error_dialog(window).accept()
    assert window.model_info is None
    assert not window.send_button.isEnabled()

    open_model_file_from_the_menu(
        qtbot, window, truncated_copy(starter_path, tmp_path / "half.gguf")
    )
    qtbot.waitUntil(lambda: error_dialog(window) is not None, timeout=10_000)
    assert "truncated" in error_dialog(window).text()
    error_dialog(window).accept()

    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        choose_in_combo(qtbot, picker, "smollm2-135m-instruct")
    assert window.send_button.isEnabled()


def test_quitting_during_an_answer_saves_it_as_stopped_and_quits(
    qtbot, window: MainWindow, huacaya_home: Path
) -> None:
    long_answers(window)
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    type_and_send(qtbot, window, STORY)
    qtbot.waitUntil(lambda: len(deltas) >= 3, timeout=ANSWER_MS)
    conversation_id = window.conversation.conversation_id
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert error_dialog(window) is None
    assert window.engine._thread.isFinished()  # nothing keeps running without a window
    stored = History().messages(conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].stats["finish_reason"] == "cancelled"
    assert stored[1].content == "".join(deltas).strip()  # every word that arrived


def test_after_a_restart_the_model_the_last_chat_used_is_loaded(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    shutil.copyfile(starter_path, tmp_path / "second.gguf")
    second = ModelLibrary().add_managed(tmp_path / "second.gguf", "Second model")
    window.models.on_library_changed()
    ask(qtbot, window, "Say hi.")  # the chat starts with the starter model…
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        choose_in_combo(qtbot, window.model_picker, second.id)
    ask(qtbot, window, "Say hi again.")  # …and goes on with the second one
    chat = window.conversation.conversation_id
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)

    again = open_window(qtbot)  # the next start
    assert again.conversation.conversation_id == chat
    assert again.model_entry.id == second.id
    assert again.model_picker.currentText() == "Second model"
    again.close()
