"""Conversations in the window: kept, found, renamed, deleted and undone, regenerated, edited,
exported and imported, restored at the next start (pytest-qt, the real starter model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT, greedy
from tests.scoring import Reference

TIMEOUT_MS = 60_000


def open_window(qtbot) -> MainWindow:  # type: ignore[no-untyped-def]
    main = MainWindow()
    qtbot.addWidget(main)
    with qtbot.waitSignal(main.model_ready, timeout=TIMEOUT_MS):
        main.show()
    main.conversation.generation = greedy(48)
    return main


@pytest.fixture
def window(qtbot) -> Iterator[MainWindow]:
    main = open_window(qtbot)
    yield main
    main.close()


def ask(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.answer_finished, timeout=TIMEOUT_MS):
        qtbot.keyClicks(window.composer, text)
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def sidebar_titles(window: MainWindow) -> list[str]:
    items = [window.sidebar.list.item(i) for i in range(window.sidebar.list.count())]
    return [item.toolTip() for item in items]


def test_a_question_creates_a_titled_conversation_that_survives_restart(
    qtbot, window, count_reference: Reference
):
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    ask(qtbot, window, COUNT)
    assert sidebar_titles(window) == [COUNT]
    stored = window.history.messages(window.conversation.conversation_id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", COUNT),
        ("assistant", "".join(deltas).strip()),  # what was streamed is what was kept
    ]
    assert stored[1].stats["generated_tokens"] > 0
    count_reference.assert_matches(stored[1].content)
    window.resize(760, 540)  # within the offscreen screen (800×600): restore keeps it on screen
    window.splitter.setSizes([300, 460])
    size, sizes = window.size(), window.splitter.sizes()
    window.close()

    again = open_window(qtbot)
    assert again.size() == size
    assert again.splitter.sizes() == sizes
    assert sidebar_titles(again) == [COUNT]
    assert again.conversation.conversation_id == stored[0].conversation_id  # last chat reopened
    assert stored[1].content in again.chat_view.plain_text()
    again.close()


def test_new_chat_rename_and_search_with_highlight(qtbot, window: MainWindow) -> None:
    ask(qtbot, window, COUNT)
    first = window.conversation.conversation_id
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat_view.entries == [] and window.conversation.conversation_id is None
    ask(qtbot, window, "Name a colour of the rainbow.")
    assert len(sidebar_titles(window)) == 2
    window.sidebar.rename(first, "Geography")
    assert "Geography" in sidebar_titles(window)

    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.sidebar.search.hasFocus()
    qtbot.keyClicks(window.sidebar.search, "rainbow")
    qtbot.waitUntil(lambda: window.sidebar.searching, timeout=5_000)
    texts = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
    assert texts and all("<b>rainbow</b>" in t.lower() for t in texts)
    window.sidebar.list.item(0).setSelected(True)
    window.sidebar.conversation_chosen.emit(
        window.sidebar.list.item(0).data(Qt.ItemDataRole.UserRole)
    )
    assert "rainbow" in window.chat_view.plain_text()
    window.sidebar.search.clear()
    qtbot.waitUntil(lambda: not window.sidebar.searching, timeout=5_000)


def test_delete_and_undo(qtbot, window: MainWindow) -> None:
    ask(qtbot, window, COUNT)
    conversation_id = window.conversation.conversation_id
    window.sidebar.delete(conversation_id)
    assert sidebar_titles(window) == []
    assert window.sidebar.undo_bar.isVisible()
    assert window.conversation.conversation_id is None  # the open chat was the deleted one
    qtbot.mouseClick(window.sidebar.undo_button, Qt.MouseButton.LeftButton)
    assert sidebar_titles(window) == [COUNT]
    assert not window.sidebar.undo_bar.isVisible()
    window.sidebar.delete(conversation_id)
    window.sidebar.forget_deleted()  # what the timer does after a few seconds
    assert window.history.list() == []
    assert window.history.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_regenerate_replaces_the_last_answer(qtbot, window: MainWindow) -> None:
    ask(qtbot, window, COUNT)
    window.conversation.generation = greedy(12)
    with qtbot.waitSignal(window.answer_finished, timeout=TIMEOUT_MS):
        window.chat_view.anchorClicked.emit(QUrl("action:regenerate:1"))
    stored = window.history.messages(window.conversation.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].stats["generated_tokens"] <= 12
    assert len(window.chat_view.entries) == 2


def test_edit_a_question_and_resend_replaces_later_turns(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    ask(qtbot, window, "Name a fruit.")
    ask(qtbot, window, "Name another one.")
    window.chat_view.action_requested.emit("edit", 0)
    assert window.composer.toPlainText() == "Name a fruit."
    window.composer.clear()
    ask(qtbot, window, COUNT)
    stored = window.history.messages(window.conversation.conversation_id)
    assert (stored[0].role, stored[0].content) == ("user", COUNT)
    assert len(stored) == 2
    count_reference.assert_matches(stored[1].content)  # answered afresh, without the old turns
    # Up in an empty composer edits the last question
    qtbot.keyClick(window.composer, Qt.Key.Key_Up)
    assert window.composer.toPlainText() == COUNT
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.composer.toPlainText() == ""


def test_export_then_import_gives_identical_messages(qtbot, window, tmp_path: Path):
    ask(qtbot, window, "Write a Python function that adds two numbers.")
    original = window.conversation.conversation_id
    window.sidebar.export_conversation(original, "json", tmp_path / "chat.json")
    window.sidebar.export_conversation(original, "markdown", tmp_path / "chat.md")
    assert (tmp_path / "chat.md").read_text().startswith("# Write a Python function")
    window.sidebar.import_conversation(tmp_path / "chat.json")
    imported = window.conversation.conversation_id
    assert imported != original
    strip = lambda ms: [(m.role, m.content, m.model) for m in ms]  # noqa: E731
    assert strip(window.history.messages(imported)) == strip(window.history.messages(original))
    (tmp_path / "bad.json").write_text(json.dumps({"hello": "world"}))
    window.sidebar.import_conversation(tmp_path / "bad.json")
    box = window.sidebar.findChild(QMessageBox)
    assert box is not None and "not a Huacaya conversation" in box.text()


def test_markdown_code_is_highlighted_and_copyable(qtbot, window: MainWindow) -> None:
    window.chat_view.show_messages(
        [
            ("user", "You", "code please"),
            ("assistant", "Bot", "Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"),
        ]
    )
    html = window.chat_view.toHtml()
    assert "def" in html and "color:" in html  # Pygments colours
    window.chat_view.anchorClicked.emit(QUrl("copy-code:1:0"))
    assert QApplication.clipboard().text() == "def add(a, b):\n    return a + b\n"


def test_settings_dialog_changes_this_chat_and_model_defaults(qtbot, window: MainWindow):
    dialog = window.open_settings()
    dialog.system_prompt.setPlainText("Answer in one word.")
    dialog.temperature.setValue(0.0)
    dialog.max_tokens.setValue(16)
    dialog.save_as_default.setChecked(True)
    dialog.accept()
    assert window.conversation.system_prompt == "Answer in one word."
    assert window.conversation.generation.max_tokens == 16
    model_id = window.model_entry.id
    assert window.settings.model_defaults[model_id]["max_tokens"] == 16
    ask(qtbot, window, COUNT)
    conversation = window.history.get(window.conversation.conversation_id)
    assert conversation.system_prompt == "Answer in one word."
    assert conversation.settings["generation"]["max_tokens"] == 16


def test_long_conversation_in_a_small_context_shows_the_notice(qtbot, window: MainWindow):
    window.settings.context_length = 512
    with qtbot.waitSignal(window.model_ready, timeout=TIMEOUT_MS):
        window.load_model(window.model_entry)
    window.conversation.generation = greedy(48)
    for turn in range(20):
        ask(qtbot, window, f"Question {turn}: tell me about an animal.")
        if "no longer fit" in window.chat_view.plain_text():
            break
    assert "no longer fit in the model's context" in window.chat_view.plain_text()
    assert len(window.history.messages(window.conversation.conversation_id)) == 2 * (turn + 1)

    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT_MS):
        window.send("word " * 1500)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "tokens long" in box.text()
    assert window.composer.toPlainText().startswith("word word")  # the question came back
