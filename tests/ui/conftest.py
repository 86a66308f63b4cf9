"""The window with the real starter model, offscreen, used as a person uses it (see person.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop.ui.main_window import MainWindow
from tests.helpers import greedy_by_default
from tests.ui.person import click, pick_file

LOAD_MS = 60_000
ANSWER_MS = 60_000


def open_window(qtbot, **kwargs) -> MainWindow:  # type: ignore[no-untyped-def]
    main = MainWindow(**kwargs)
    qtbot.addWidget(main)
    with qtbot.waitSignal(main.model_ready, timeout=LOAD_MS):
        main.show()
    qtbot.waitExposed(main)
    return main


@pytest.fixture
def window(qtbot, huacaya_home: Path) -> Iterator[MainWindow]:
    greedy_by_default(huacaya_home, 64)  # as a user who chose greedy answers in Settings
    main = open_window(qtbot)
    yield main
    if main.isVisible():
        main.close()


def type_and_send(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    click(window.composer)
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def ask(qtbot, window: MainWindow, text: str) -> str:  # type: ignore[no-untyped-def]
    """Type ``text``, press Enter and wait for the answer; returns what was streamed."""
    deltas: list[str] = []
    window.engine.delta.connect(deltas.append)
    try:
        with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
            type_and_send(qtbot, window, text)
    finally:
        window.engine.delta.disconnect(deltas.append)
    return "".join(deltas)


IMPORT_MS = 60_000


def import_chat(qtbot, window: MainWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Click Import…, choose ``path`` in the file dialog, and wait while the button says
    "Importing…" (an import runs off the GUI thread); then the chat is open, or the error is
    shown."""
    button = window.sidebar.import_button
    click(button)
    pick_file(qtbot, path)
    qtbot.waitUntil(button.isEnabled, timeout=IMPORT_MS)
