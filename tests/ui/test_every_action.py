"""Every action a person can reach, found by enumeration rather than a hand-kept list: each item
of the menu bar and of a chat's right-click menu, each toolbar button and push button, and each
shortcut of the main window, and every button of the Models, Presets and Settings windows. Each
is triggered as a person would (clicked, or its keys pressed) with a conversation and a model
present. None may raise (pytest-qt fails the test on an exception in a slot) or show "Something
unexpected went wrong"; dialogs an action opens are answered with Cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QDialog,
    QMessageBox,
    QTableWidget,
    QToolBar,
    QWidget,
)

from desktop.core import paths
from desktop.ui.main_window import MainWindow
from tests.hub_server import LoopbackHub
from tests.ui.conftest import ANSWER_MS, ask
from tests.ui.opener import first_on_path, opened_all, system_opener
from tests.ui.person import choose, click, dismiss, open_menu, right_click, toggle

UNEXPECTED = "Something unexpected went wrong"
NOT_IN_THE_WALK = {"Quit"}  # closes the window: tested on its own (quitting during an answer)


def _in_a_dialog(action: QAction) -> bool:
    """Whether ``action`` belongs to a dialog's widgets (its shortcut works in that window
    only), rather than to the main window, its menus or its toolbar."""
    owner = action.parent()
    while isinstance(owner, QWidget):
        if isinstance(owner, QDialog):
            return True
        owner = owner.parentWidget()
    return False


class Urls(QObject):
    """Stands in for the desktop's file manager: records what would have been opened."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []
        self.opener = Path()

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Urls]:
    handler = Urls()
    QDesktopServices.setUrlHandler("file", handler, "open")
    # what opens with the system's opener (the log folder) is recorded, not opened
    handler.opener = system_opener(tmp_path, exit_status=0)
    monkeypatch.setenv("PATH", first_on_path(handler.opener))
    yield handler
    QDesktopServices.unsetUrlHandler("file")


class Walk:
    def __init__(self, qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
        self.qtbot, self.window = qtbot, window
        self.done: list[str] = []
        self.messages: list[str] = []

    def settle(self, keep: tuple[QDialog, ...] = ()) -> None:
        """Let the action finish (an answer it started included), then Cancel what it opened."""
        self.qtbot.wait(100)
        if self.window.engine.generating:
            self.qtbot.waitUntil(lambda: not self.window.engine.generating, timeout=ANSWER_MS)
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible() and widget not in keep:
                if isinstance(widget, QMessageBox):
                    self.messages.append(f"{widget.text()} {widget.informativeText()}")
                widget.reject()
        self.qtbot.wait(20)
        assert not any(UNEXPECTED in m for m in self.messages), self.messages
        self.ensure_conversation()

    def ensure_conversation(self) -> None:
        """Actions like New chat or Delete leave no chat open: open one again, by clicking."""
        window = self.window
        if window.chat_actions.editing:
            window.chat_actions.stop()
        chats = window.sidebar.list
        if window.conversation.conversation_id is None:
            if window.sidebar.undo_bar.isVisible():
                click(window.sidebar.undo_button)
            if chats.count():
                click(chats.viewport(), chats.visualItemRect(chats.item(0)).center())

    def menu_bar(self) -> None:
        bar = self.window.menuBar()
        for title in [a.text() for a in bar.actions()]:
            menu = open_menu(self.qtbot, self.window, title)
            items = [a.text() for a in menu.actions() if not a.isSeparator()]
            dismiss(self.qtbot, menu)
            for item in items:
                if item.replace("&", "") in NOT_IN_THE_WALK:
                    continue
                menu = open_menu(self.qtbot, self.window, title)
                action = next(a for a in menu.actions() if a.text() == item)
                if not action.isEnabled():
                    dismiss(self.qtbot, menu)
                    continue
                choose(self.qtbot, menu, item)
                self.done.append(f"{title} → {item}")
                self.settle()

    def chat_menu(self) -> None:
        chats = self.window.sidebar.list
        menu = right_click(chats.viewport(), chats.visualItemRect(chats.item(0)).center())
        items = [a.text() for a in menu.actions() if not a.isSeparator()]
        dismiss(self.qtbot, menu)
        # (the test clicks elsewhere before the next right-click: offscreen, a right-click's
        # release never reaches a window while its menu is open, and Qt waits for one)
        click(self.window.statusBar())
        for item in items:
            menu = right_click(chats.viewport(), chats.visualItemRect(chats.item(0)).center())
            choose(self.qtbot, menu, item)
            self.done.append(f"chat menu → {item}")
            self.settle()

    def shortcuts(self) -> None:
        for action in self.window.findChildren(QAction):
            sequence = action.shortcut()
            if sequence.isEmpty() or action.text().replace("&", "") in NOT_IN_THE_WALK:
                continue
            if not action.isEnabled():
                continue
            if _in_a_dialog(action):
                continue  # another window's (the studio's Undo): its own tests press it there
            fired: list[bool] = []
            action.triggered.connect(lambda *_, fired=fired: fired.append(True))
            combination = sequence[0]
            self.window.activateWindow()
            QTest.qWaitForWindowActive(self.window, 1000)
            QTest.keyClick(self.window, combination.key(), combination.keyboardModifiers())
            assert fired, f"{sequence.toString()} did not trigger “{action.text()}”"
            self.done.append(
                f"shortcut {sequence.toString(QKeySequence.SequenceFormat.NativeText)}"
            )
            self.settle()

    def buttons(self, parent, keep: tuple[QDialog, ...] = ()) -> None:  # type: ignore[no-untyped-def]
        """Click every visible, enabled button of ``parent`` (check boxes toggled twice)."""
        seen: set[int] = set()
        while True:
            pending = [
                b
                for b in parent.findChildren(QAbstractButton)
                if b.isVisible() and b.isEnabled() and id(b) not in seen and b.text()
            ]
            if not pending:
                return
            target = pending[0]
            seen.add(id(target))
            for table in parent.findChildren(QTableWidget):  # something to act on
                if table.isVisible() and table.rowCount() and table.currentRow() < 0:
                    table.selectRow(0)
            label = target.text()
            if isinstance(target, QCheckBox):
                toggle(target)
                toggle(target)
            else:
                click(target)
            self.done.append(f"{parent.objectName() or type(parent).__name__} → {label}")
            self.settle(keep)


def test_every_action_of_the_window_and_its_dialogs_works(
    qtbot, window: MainWindow, urls: Urls, hub_endpoint: LoopbackHub
) -> None:
    ask(qtbot, window, "Write a Python function that adds two numbers.")
    window.conversation.session.generation.max_tokens = 8
    walk = Walk(qtbot, window)

    walk.menu_bar()
    walk.chat_menu()
    walk.shortcuts()
    toolbar = window.findChild(QToolBar, "mainToolbar")
    for action in toolbar.actions():
        button = toolbar.widgetForAction(action)
        if isinstance(button, QAbstractButton) and action.isEnabled():
            click(button)
            walk.done.append(f"toolbar → {action.text()}")
            walk.settle(keep=(window.models_dialog,) if window.models_dialog else ())
    walk.buttons(window)

    dialog = window.open_models()
    for index in range(dialog.tabs.count()):
        bar = dialog.tabs.tabBar()
        click(bar, bar.tabRect(index).center())
        walk.buttons(dialog.tabs.widget(index), keep=(dialog,))
    walk.buttons(dialog.jobs_view, keep=(dialog,))
    dialog.close()

    presets = window.preset_picker.open_manager()
    walk.buttons(presets, keep=(presets,))
    presets.close()

    settings = window.open_settings()
    for index in range(settings.tabs.count()):
        click(settings.tabs.tabBar(), settings.tabs.tabBar().tabRect(index).center())
        walk.buttons(settings.tabs.widget(index), keep=(settings,))
    click(settings.ok_button)
    walk.settle()

    print(f"{len(walk.done)} actions:", *walk.done, sep="\n  ")
    assert len(walk.done) > 40
    shown = opened_all(urls.opener)
    assert any(any(Path(p).glob("*.gguf")) for p in shown)  # Show in folder: the model's
    assert str(paths.log_dir()) in shown  # Help → Open the log folder
    assert not any(UNEXPECTED in message for message in walk.messages)
