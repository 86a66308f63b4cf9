"""Searching from the window: the search runs off the GUI thread, and only the latest words'
results are shown."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from desktop.ui.main_window import MainWindow
from tests.ui.person import click


def test_searching_never_runs_on_the_gui_thread(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = window.history.create(title="Llamas")
    window.history.add_message(chat.id, "user", "tell me about llamas " * 20_000)
    real = window.history.search
    threads: list[bool] = []
    release = threading.Event()

    def slow_search(text: str, limit: int = 50):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread() is threading.main_thread())
        release.wait(5)  # a search that takes its time
        return real(text, limit)

    monkeypatch.setattr(window.history, "search", slow_search)
    click(window.sidebar.search)
    qtbot.keyClicks(window.sidebar.search, "llam")
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=5_000)
    qtbot.keyClicks(window.sidebar.search, "as")  # the window still takes keys meanwhile
    assert window.sidebar.search.text() == "llamas"
    release.set()
    qtbot.waitUntil(lambda: window.sidebar.searching, timeout=10_000)
    assert threads and not any(threads)
    qtbot.waitUntil(lambda: len(threads) == 2, timeout=5_000)
    row = window.sidebar.list.item(0).text()
    assert "Llamas" in row and "<b>llamas</b>" in row
    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.sidebar.searching, timeout=5_000)
