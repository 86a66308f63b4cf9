"""Help → Keyboard shortcuts and About, and the Edit menu's Undo … Select all acting on the box
that has the focus: used through the menu bar, keys and buttons, as a person does."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest
from PySide6.QtCore import QObject, Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QLineEdit, QTableWidget

from desktop import __version__
from desktop.core import paths
from desktop.ui.main_window import MainWindow
from tests.ui.opener import first_on_path, opened, system_opener
from tests.ui.person import action_in, click, dialog_named, dismiss, from_menu, open_menu

EDIT_ITEMS = ("Undo", "Redo", "Cut", "Copy", "Paste", "Select all")


def edit(qtbot, window: MainWindow, item: str) -> None:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "Edit", item)


def enabled_edit_items(qtbot, window: MainWindow) -> set[str]:  # type: ignore[no-untyped-def]
    menu = open_menu(qtbot, window, "Edit")
    enabled = {item for item in EDIT_ITEMS if action_in(menu, item).isEnabled()}
    dismiss(qtbot, menu)
    return enabled


def test_the_edit_menu_acts_on_the_box_that_has_the_focus(qtbot, window: MainWindow) -> None:
    composer = window.composer
    QGuiApplication.clipboard().clear()
    click(window.sidebar.list.viewport())  # not a text box: nothing to edit
    assert enabled_edit_items(qtbot, window) == set()

    click(composer)
    qtbot.keyClicks(composer, "three years")
    assert enabled_edit_items(qtbot, window) == {"Undo", "Select all"}
    edit(qtbot, window, "Select all")
    assert composer.textCursor().selectedText() == "three years"
    edit(qtbot, window, "Cut")
    assert composer.toPlainText() == ""
    assert QGuiApplication.clipboard().text() == "three years"
    edit(qtbot, window, "Undo")
    assert composer.toPlainText() == "three years"
    edit(qtbot, window, "Redo")
    assert composer.toPlainText() == ""
    edit(qtbot, window, "Paste")
    edit(qtbot, window, "Paste")
    assert composer.toPlainText() == "three yearsthree years"

    # The chat search box is a box too: the clipboard goes there when it has the focus.
    search = window.sidebar.search
    click(search)
    edit(qtbot, window, "Paste")
    assert search.text() == "three years"
    assert composer.toPlainText() == "three yearsthree years"

    # The transcript is read-only: it can be selected and copied, never cut or pasted into.
    window.chat_view.setFocus(Qt.FocusReason.MouseFocusReason)  # (empty: nothing to click on)
    click(window.chat_view.viewport())
    assert "Cut" not in enabled_edit_items(qtbot, window)
    assert "Paste" not in enabled_edit_items(qtbot, window)


def test_the_copy_item_copies_what_is_selected_in_the_transcript(qtbot, window: MainWindow) -> None:
    from tests.ui.conftest import ask

    ask(qtbot, window, "Say hello.")
    view = window.chat_view
    click(view.viewport())
    edit(qtbot, window, "Select all")
    edit(qtbot, window, "Copy")
    copied = QGuiApplication.clipboard().text()
    assert "Say hello." in copied
    assert copied.strip() == view.textCursor().selection().toPlainText().strip()


@pytest.fixture
def opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's opener, stood in for: it records what it was asked to open."""
    folder = system_opener(tmp_path, exit_status=0)
    monkeypatch.setenv("PATH", first_on_path(folder))
    return folder


def test_about_shows_the_versions_and_the_data_folder_and_copies_them(
    qtbot, window: MainWindow, opener: Path
) -> None:
    from_menu(qtbot, window, "Help", "About Huacaya")
    about = dialog_named(qtbot, "aboutDialog")
    shown = " ".join(label.text() for label in about.findChildren(QLabel))
    assert __version__ in shown
    assert llama_cpp.llama_version().decode() in shown
    assert f"llama-cpp-python {llama_cpp.__version__}" in shown
    assert qVersion() in shown
    assert str(paths.data_dir()) in shown

    click(about.findChild(QObject, "aboutCopy"))
    copied = QGuiApplication.clipboard().text()
    assert f"Huacaya: {__version__}" in copied
    assert f"Data folder: {paths.data_dir()}" in copied
    assert "llama.cpp: " in copied

    click(about.findChild(QObject, "aboutDataFolder"))
    qtbot.waitUntil(lambda: opened(opener) == str(paths.data_dir()), timeout=5000)
    qtbot.keyClick(about, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not about.isVisible(), timeout=2000)


def test_keyboard_shortcuts_lists_every_menu_key_and_filters_them(
    qtbot, window: MainWindow
) -> None:
    from_menu(qtbot, window, "Help", "Keyboard shortcuts")
    dialog = dialog_named(qtbot, "shortcutsDialog")
    table = dialog.findChild(QTableWidget, "shortcutsTable")

    def rows() -> list[tuple[str, ...]]:
        return [
            tuple(table.item(r, c).text() for c in range(3))
            for r in range(table.rowCount())
            if not table.isRowHidden(r)
        ]

    everything = rows()
    assert ("Chat", "Regenerate answer", "Ctrl+R") in everything
    assert ("Edit", "Copy", "Ctrl+C") in everything
    assert ("Documents", "Collections", "Ctrl+Shift+D") in everything
    assert ("Message box", "Start a new line", "Shift+Enter") in everything
    # Every key of the menu bar is listed, none twice.
    keys = [row[2] for row in everything if row[0] not in ("Message box", "Chats", "Anywhere")]
    assert len(keys) == len(set(keys))

    search = dialog.findChild(QLineEdit, "shortcutsFilter")
    click(search)
    qtbot.keyClicks(search, "ctrl+r")
    assert rows() == [("Chat", "Regenerate answer", "Ctrl+R")]
    qtbot.keyClicks(search, "x")
    assert rows() == []
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)

    # Its own key opens it again.
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 1000)
    qtbot.keyClick(window, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    assert dialog_named(qtbot, "shortcutsDialog").isVisible()
