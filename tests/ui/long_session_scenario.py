"""The long sessions of test_long_session.py, each run by it in a child process (pytest collects
this file only when it is named on the command line).

A person opens the window and asks 300 questions with the keyboard (Enter sends; a new chat
with Ctrl+N every hundred answers); or keeps a chat of 10,000 messages from earlier use, clicks
it in the sidebar and asks one more question in it. The engine thread runs QuickEngine (answers
at once, without llama.cpp); the rest is the real window.
"""

from __future__ import annotations

import sys
import time

import pytest
from PySide6.QtCore import Qt

from desktop.core.history.store import History, NewMessage
from desktop.ui.background import engine_thread
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import ANSWER_MS, open_window
from tests.ui.person import click
from tests.ui.quick_engine import QuickEngine

ANSWERS = 300
NEW_CHAT_EVERY = 100
BIG_CHAT_MESSAGES = 10_000
BIG_CHAT_TITLE = "Everything we said this year"
# A binding that drops a reference per void Qt call loses about 185 references to None per
# answer here; a sound one moves the count by a few hundred over the whole session (caches,
# the chats it lets go of).
NONE_REFERENCES_MARGIN = 10 * ANSWERS


@pytest.fixture
def quick_window(qtbot, monkeypatch: pytest.MonkeyPatch) -> MainWindow:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(engine_thread, "ChatEngine", QuickEngine)
    return open_window(qtbot)


def ask_with_the_keyboard(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the composer (it has the focus after each answer) and press Enter."""
    if not window.composer.hasFocus():
        click(window.composer)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClicks(window.composer, text)
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def test_three_hundred_answers(qtbot, quick_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = quick_window
    none_before = sys.getrefcount(None)
    for number in range(1, ANSWERS + 1):
        if number > 1 and number % NEW_CHAT_EVERY == 1:
            qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
            assert window.chat_view.entries == []
        ask_with_the_keyboard(qtbot, window, f"Question {number}: what comes next?")
        assert f"Answer {QuickEngine.answers} to Question {number}:" in window.messages[-1].content
    lost = none_before - sys.getrefcount(None)
    assert lost < NONE_REFERENCES_MARGIN, f"{lost} references to None lost in {ANSWERS} answers"
    assert len(window.chat_view.entries) == 2 * NEW_CHAT_EVERY
    assert f"Answer {QuickEngine.answers} to Question {ANSWERS}:" in window.chat_view.plain_text()
    chats = window.history.list()
    assert len(chats) == ANSWERS // NEW_CHAT_EVERY
    assert all(len(window.history.messages(c.id)) == 2 * NEW_CHAT_EVERY for c in chats)
    window.close()


def keep_a_big_chat() -> int:
    """The 10,000-message chat, stored as the window stores chats, from long ago."""
    long_ago = time.time() - 300 * 86_400
    messages = [
        NewMessage(
            role="user" if i % 2 == 0 else "assistant",
            content=(
                f"Question {i // 2}: how do I sort a list?"
                if i % 2 == 0
                else f"Answer {i // 2}: use `sorted()`.\n\n- **stable**\n- returns a new list"
            ),
            created_at=long_ago + i,
        )
        for i in range(BIG_CHAT_MESSAGES)
    ]
    history = History()
    try:
        return history.add_conversation(
            title=BIG_CHAT_TITLE,
            model="",
            system_prompt="",
            settings={},
            created_at=long_ago,
            messages=messages,
        ).id
    finally:
        history.close()


def test_ten_thousand_message_chat(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    big_chat = keep_a_big_chat()
    monkeypatch.setattr(engine_thread, "ChatEngine", QuickEngine)
    window = open_window(qtbot)
    ask_with_the_keyboard(qtbot, window, "A question before I look up the old chat.")
    chats = window.sidebar.list
    titles = [chats.item(i).toolTip() for i in range(chats.count())]
    assert BIG_CHAT_TITLE in titles, titles
    item = chats.item(titles.index(BIG_CHAT_TITLE))
    chats.scrollToItem(item)
    click(chats.viewport(), chats.visualItemRect(item).center())
    assert window.conversation.conversation_id == big_chat
    assert len(window.chat_view.entries) == BIG_CHAT_MESSAGES
    assert f"Answer {BIG_CHAT_MESSAGES // 2 - 1}:" in window.chat_view.plain_text()

    ask_with_the_keyboard(qtbot, window, "And one more thing?")
    assert len(window.chat_view.entries) == BIG_CHAT_MESSAGES + 2
    assert len(window.history.messages(big_chat)) == BIG_CHAT_MESSAGES + 2
    window.close()
