"""The imports that aborted the window (issue 30, item 1), each run by
test_imports_in_the_window.py in a child process: a person clicks Import…, chooses the export,
sees the chat, and asks one more question in it. The engine thread runs QuickEngine (answers at
once, without llama.cpp); the rest is the real window.

The abort's message was "Fatal Python error: none_dealloc" (PySide6 6.12 on Python < 3.12,
issue 29): the transcript made a handful of void Qt calls per message of the conversation, each
of which lost a reference to None, and 100,000 messages are ten times what None has. Now the
transcript renders the latest page of a conversation only, so opening one costs what a page
costs, whatever its length.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from desktop.core.chat.folding import PAGE_MESSAGES
from desktop.ui.background import engine_thread
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import import_chat, open_window
from tests.ui.long_session_scenario import ask_with_the_keyboard
from tests.ui.person import click, click_link
from tests.ui.quick_engine import QuickEngine

HUNDRED_THOUSAND = 100_000


@pytest.fixture
def quick_window(qtbot, monkeypatch: pytest.MonkeyPatch) -> MainWindow:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(engine_thread, "ChatEngine", QuickEngine)
    return open_window(qtbot)


def write_export(path: Path, messages: list[dict[str, str]], title: str = "Imported") -> Path:
    export = {"format": "huacaya-conversation", "version": 1, "title": title}
    path.write_text(json.dumps({**export, "messages": messages}), encoding="utf-8")
    return path


def test_only_system_messages(qtbot, quick_window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = quick_window
    export = write_export(
        tmp_path / "system.json",
        [
            {"role": "system", "content": "You are terse."},
            {"role": "system", "content": ""},
        ],
    )
    import_chat(qtbot, window, export)
    assert [m.role for m in window.messages] == ["system", "system"]
    assert "You are terse." in window.chat_view.plain_text()
    ask_with_the_keyboard(qtbot, window, "And now a question?")
    stored = window.history.messages(window.conversation.conversation_id)
    assert [m.role for m in stored] == ["system", "system", "user", "assistant"]
    window.close()


def test_a_hundred_thousand_messages(qtbot, quick_window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = quick_window
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Message {i}: hello"}
        for i in range(HUNDRED_THOUSAND)
    ]
    import_chat(qtbot, window, write_export(tmp_path / "long.json", messages))
    view = window.chat_view
    assert len(window.messages) == len(view.entries) == HUNDRED_THOUSAND
    assert len(view.shown) <= PAGE_MESSAGES
    assert f"Message {HUNDRED_THOUSAND - 1}: hello" in view.plain_text()
    click(view.viewport(), QPoint(4, view.viewport().height() // 2))  # in the margin
    qtbot.keyClick(view, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: len(view.shown) > PAGE_MESSAGES, timeout=5_000)  # at the top: more
    shown = len(view.shown)
    click_link(view, "more:earlier")
    assert len(view.shown) > shown
    ask_with_the_keyboard(qtbot, window, "One more?")
    assert len(window.history.messages(window.conversation.conversation_id)) == (
        HUNDRED_THOUSAND + 2
    )
    window.close()
