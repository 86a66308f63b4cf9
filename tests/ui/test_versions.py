"""Answer versions in the window, used as a person does: Regenerate keeps the earlier answer,
‹ and › under it page through the versions (the rest of the chat follows the version shown),
an edited question keeps the earlier one with what followed it, and the choice survives a
restart and an export and import. The engine thread runs QuickEngine (a different answer each
time, at once); the rest is the real window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from desktop.ui.background import engine_thread
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import ANSWER_MS, ask, import_chat, open_window
from tests.ui.person import choose, click, click_link, link_position, pick_file, right_click
from tests.ui.quick_engine import QuickEngine


@pytest.fixture
def quick_window(qtbot, monkeypatch: pytest.MonkeyPatch, huacaya_home: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(engine_thread, "ChatEngine", QuickEngine)
    return open_window(qtbot)


def click_message_link(qtbot, window: MainWindow, action: str, index: int) -> None:  # type: ignore[no-untyped-def]
    click_link(window.chat_view, f"action:{action}:{window.messages[index].key}")


def regenerate(qtbot, window: MainWindow, index: int) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        click_message_link(qtbot, window, "regenerate", index)


def has_link(window: MainWindow, action: str, index: int) -> bool:
    try:
        link_position(window.chat_view, f"action:{action}:{window.messages[index].key}")
    except AssertionError:
        return False
    return True


def heading(answer: str) -> str:
    """An answer's first line, as the transcript shows it too (the rest is Markdown)."""
    return answer.splitlines()[0]


def seen(window: MainWindow) -> str:
    return window.chat_view.plain_text().replace("\u00a0", " ")


def test_regenerate_keeps_the_earlier_answer_and_the_arrows_page_through_them(
    qtbot, quick_window: MainWindow, tmp_path: Path
) -> None:
    window = quick_window
    ask(qtbot, window, "Name a colour.")
    first = heading(window.messages[1].content)
    assert "1/1" not in seen(window) and not has_link(window, "older-version", 1)

    regenerate(qtbot, window, 1)
    second = heading(window.messages[1].content)
    assert second != first
    assert second in seen(window) and first not in seen(window)
    assert "‹ 2/2 ›" in seen(window)
    assert not has_link(window, "newer-version", 1)  # the last version: › has no link

    click_message_link(qtbot, window, "older-version", 1)
    assert first in seen(window) and second not in seen(window)
    assert "‹ 1/2 ›" in seen(window)
    click_message_link(qtbot, window, "copy", 1)
    assert heading(QApplication.clipboard().text()) == first  # Copy copies the version shown
    ask(qtbot, window, "Another one?")  # asked after version 1: it follows version 1
    follow_up = heading(window.messages[3].content)
    assert [heading(m.content) for m in window.messages[:2]] == ["Name a colour.", first]

    click_message_link(qtbot, window, "newer-version", 1)
    assert second in seen(window) and "Another one?" not in seen(window)
    click_message_link(qtbot, window, "older-version", 1)
    assert "Another one?" in seen(window) and follow_up in seen(window)

    chat = window.conversation.conversation_id
    window.close()
    again = open_window(qtbot)  # a restart, on the same data folder
    assert again.conversation.conversation_id == chat
    assert first in seen(again) and "‹ 1/2 ›" in seen(again) and follow_up in seen(again)

    chats = again.sidebar.list
    row = chats.visualItemRect(chats.item(0)).center()
    choose(qtbot, right_click(chats.viewport(), row), "Export as JSON…")
    pick_file(qtbot, tmp_path / "chat.json")
    exported = json.loads((tmp_path / "chat.json").read_text(encoding="utf-8"))
    assert heading(exported["messages"][1]["content"]) == first
    assert [heading(m["content"]) for m in exported["messages"][1]["other_versions"][0]] == [second]

    import_chat(qtbot, again, tmp_path / "chat.json")
    assert again.conversation.conversation_id != chat
    assert first in seen(again) and "‹ 1/2 ›" in seen(again)
    click_message_link(qtbot, again, "newer-version", 1)
    assert second in seen(again) and "‹ 2/2 ›" in seen(again)
    again.close()


def test_an_edited_question_keeps_the_earlier_one_and_what_followed_it(
    qtbot, quick_window: MainWindow
) -> None:
    window = quick_window
    ask(qtbot, window, "Name a colour.")
    ask(qtbot, window, "Name another one.")
    before = [m.content for m in window.messages]

    view = window.chat_view
    click(view.viewport(), QPoint(4, view.viewport().height() // 2))  # in the margin
    qtbot.keyClick(view, Qt.Key.Key_Home)  # up to the first question, as a reader scrolls
    click_message_link(qtbot, window, "edit", 0)
    qtbot.keyClick(window.composer, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClicks(window.composer, "Name a fruit.")
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert window.messages[0].content == "Name a fruit."
    assert len(window.messages) == 2 and "‹ 2/2 ›" in seen(window)
    assert "Name another one." not in seen(window)

    click_message_link(qtbot, window, "older-version", 0)
    assert [m.content for m in window.messages] == before  # the earlier branch, whole
    assert "‹ 1/2 ›" in seen(window) and "Name another one." in seen(window)
    chat = window.conversation.conversation_id
    assert window.history.get(chat).title == "Name a colour."  # the title follows
    assert not window.edit_undo_bar.isVisible()  # the chat changed: nothing to undo
