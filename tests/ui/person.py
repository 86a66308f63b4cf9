"""Using the window as a person does: clicks and keys go through the window system (so a right
click opens a context menu and a shortcut finds its action), menus are opened and chosen from,
links in the transcript are clicked where they are drawn, and modal dialogs are answered as
they appear."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QAction, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QLineEdit,
    QMenu,
    QStyle,
    QStyleOptionButton,
    QStyleOptionViewItem,
    QTextBrowser,
    QWidget,
)

WAIT_MS = 5_000


def _window_point(widget: QWidget, pos: QPoint | None) -> tuple:  # type: ignore[type-arg]
    window = widget.window()
    if not window.isActiveWindow() and window.windowType() != Qt.WindowType.Popup:
        window.activateWindow()  # what the window manager does when a window is clicked
        QTest.qWaitForWindowActive(window, 1000)
    handle = window.windowHandle()
    assert handle is not None, f"{widget!r} is not shown"
    _wait_until_drawn_where_it_is(widget, pos)
    local = pos if pos is not None else widget.rect().center()
    return handle, widget.mapTo(window, local)


def _wait_until_drawn_where_it_is(widget: QWidget, pos: QPoint | None) -> None:
    """A person clicks what they see, where it stays. A widget just put into a table sits at a
    provisional place until the view's delayed layout runs, which may happen between the press
    and the release of a click: the button then moves away and takes no click. So wait until the
    point is on ``widget`` and stays there while pending events are handled."""
    window = widget.window()
    deadline = time.monotonic() + WAIT_MS / 1000

    def where() -> QPoint | None:
        local = pos if pos is not None else widget.rect().center()
        point = widget.mapTo(window, local)
        found = window.childAt(point) or window
        return point if found is widget or widget.isAncestorOf(found) else None

    while True:
        before = where()
        QApplication.processEvents()
        if before is not None and where() == before:
            return
        assert time.monotonic() < deadline, f"{widget!r} is not where it is drawn"
        QTest.qWait(10)


_last_click: dict[str, float] = {}


def click(
    widget: QWidget,
    pos: QPoint | None = None,
    button: Qt.MouseButton = Qt.MouseButton.LeftButton,
) -> None:
    """One click. Two separate clicks of a person are further apart than a double-click (QTest
    would otherwise make the second one a double-click, which opens no context menu)."""
    interval = QApplication.doubleClickInterval() / 1000 + 0.05
    since = time.monotonic() - _last_click.get("at", 0.0)
    if since < interval:
        QTest.qWait(int((interval - since) * 1000))
    handle, point = _window_point(widget, pos)
    QTest.mouseClick(handle, button, Qt.KeyboardModifier.NoModifier, point)
    _last_click["at"] = time.monotonic()


def toggle(box: QAbstractButton) -> None:
    """Click a check box on its box (its label may not reach the middle of a wide row)."""
    option = QStyleOptionButton()
    option.initFrom(box)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    click(box, indicator.center())


def tick(view: QAbstractItemView, index: QModelIndex) -> None:
    """Click the check box of a checkable row of a list or table, where the style draws it."""
    view.scrollTo(index)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = view.visualRect(index)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    indicator = view.style().subElementRect(
        QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view
    )
    click(view.viewport(), indicator.center())


def right_click(widget: QWidget, pos: QPoint | None = None) -> QMenu:
    """Right-click; returns the context menu that opened."""
    click(widget, pos, Qt.MouseButton.RightButton)
    menu = popup()
    for _ in range(50):  # it opens as the event loop runs on
        if menu is not None and menu.isVisible():
            return menu
        QTest.qWait(10)
        menu = popup()
    raise AssertionError("no context menu opened")


def choose_in_combo(qtbot, combo: QComboBox, data: object) -> None:  # type: ignore[no-untyped-def]
    """Open a drop-down list with a click and click the entry whose data is ``data``."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    click(combo)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=WAIT_MS)
    rect = view.visualRect(combo.model().index(index, 0))
    # A release right after the list opened is ignored (it would be the opening click's own):
    # a person's second click comes later. The list is a popup of its own and goes away as the
    # click selects, so it is clicked directly.
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=WAIT_MS)


def dismiss(qtbot, menu: QMenu) -> None:  # type: ignore[no-untyped-def]
    """Close an open menu as a person does: Esc (a popup's own way out)."""
    QTest.keyClick(menu, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not menu.isVisible() and popup() is None, timeout=WAIT_MS)


def popup() -> QMenu | None:
    widget = QApplication.activePopupWidget()
    return widget if isinstance(widget, QMenu) else None


def _plain(text: str) -> str:
    return text.replace("&", "").replace("…", "").strip()


def action_in(menu: QMenu, text: str) -> QAction:
    for action in menu.actions():
        if _plain(action.text()) == _plain(text):
            return action
    raise AssertionError(f"no “{text}” in {[a.text() for a in menu.actions()]}")


def choose(qtbot, menu: QMenu, text: str) -> None:  # type: ignore[no-untyped-def]
    """Click the item ``text`` of an open menu."""
    qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
    action = action_in(menu, text)
    assert action.isEnabled(), f"“{text}” is disabled"
    click(menu, menu.actionGeometry(action).center())


def open_menu(qtbot, window, title: str) -> QMenu:  # type: ignore[no-untyped-def]
    """Click a title of the window's menu bar; returns the menu that dropped down."""
    bar = window.menuBar()
    entry = next(a for a in bar.actions() if _plain(a.text()) == _plain(title))
    click(bar, bar.actionGeometry(entry).center())
    menu = entry.menu()
    qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
    return menu


def from_menu(qtbot, window, title: str, item: str) -> None:  # type: ignore[no-untyped-def]
    choose(qtbot, open_menu(qtbot, window, title), item)


def link_position(view: QTextBrowser, href: str) -> QPoint:
    """Where the link to ``href`` is drawn in the view's viewport."""
    document = view.document()
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(document)
                cursor.setPosition(fragment.position() + fragment.length() // 2)
                return view.cursorRect(cursor).center()
            fragments += 1
        block = block.next()
    raise AssertionError(f"no link to {href} in the transcript")


def click_link(view: QTextBrowser, href: str) -> None:
    position = link_position(view, href)
    if not view.viewport().rect().contains(position):  # scroll it into view, as a reader would
        bar = view.verticalScrollBar()
        bar.setValue(bar.value() + position.y() - view.viewport().height() // 2)
        position = link_position(view, href)
    click(view.viewport(), position)


def dialog_named(qtbot, name: str) -> QDialog:  # type: ignore[no-untyped-def]
    """The visible dialog called ``name`` (waiting for it to appear)."""
    found: list[QDialog] = []

    def shown() -> bool:
        found[:] = [
            w
            for w in QApplication.allWidgets()
            if isinstance(w, QDialog) and w.objectName() == name and w.isVisible()
        ]
        return bool(found)

    qtbot.waitUntil(shown, timeout=WAIT_MS)
    return found[-1]


def pick_file(qtbot, path: Path) -> None:  # type: ignore[no-untyped-def]
    """In the file dialog that is open, type ``path`` as the file name and press Enter."""
    dialog = dialog_named(qtbot, "fileDialog")
    assert isinstance(dialog, QFileDialog)
    name = dialog.findChild(QLineEdit, "fileNameEdit")
    assert name is not None, "the file dialog has no file name box"
    name.clear()
    qtbot.keyClicks(name, str(path))
    qtbot.keyClick(name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def type_into_dialog(qtbot, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Replace the text of the input dialog ``name`` by typing, then press Enter."""
    dialog = dialog_named(qtbot, name)
    edit = dialog.findChild(QLineEdit)
    assert edit is not None
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def status_line(window) -> str:  # type: ignore[no-untyped-def]
    """What the left of the window's status bar shows now: a passing message while there is one,
    else what stays there (the model, its context and threads)."""
    message = window.statusBar().currentMessage()
    return message or window.status_label.text()
