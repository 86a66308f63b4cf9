"""The Edit menu's Undo, Redo, Cut, Copy, Paste and Select all, for whichever box has the focus:
the message box, the transcript (copy and select only: it is read-only), the chat search, a
Settings field…

Each item is enabled only when it would do something there (Cut needs a selection in a box that
can change, Paste text on the clipboard), judged when the menu opens and when the focus moves.
Their shortcuts are the platform's standard keys; a text box claims those keys for itself
(Qt's shortcut override), so pressing them in a box does what the box does, and the menu item
does the same thing by mouse.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

TextBox = QLineEdit | QTextEdit | QPlainTextEdit

_ITEMS = (
    ("undo", "&Undo", QKeySequence.StandardKey.Undo),
    ("redo", "&Redo", QKeySequence.StandardKey.Redo),
    ("cut", "Cu&t", QKeySequence.StandardKey.Cut),
    ("copy", "&Copy", QKeySequence.StandardKey.Copy),
    ("paste", "&Paste", QKeySequence.StandardKey.Paste),
    ("select_all", "Select &all", QKeySequence.StandardKey.SelectAll),
)
OPERATIONS = tuple(item[0] for item in _ITEMS)


def box_of(widget: QWidget | None) -> TextBox | None:
    """``widget`` as a text box (an editable drop-down's or a spin box's line included)."""
    if isinstance(widget, QComboBox) and widget.isEditable():
        widget = widget.lineEdit()
    elif isinstance(widget, QAbstractSpinBox):
        widget = widget.findChild(QLineEdit)
    return widget if isinstance(widget, QLineEdit | QTextEdit | QPlainTextEdit) else None


def _clipboard_has_text() -> bool:
    return bool(QGuiApplication.clipboard().text())


def can(box: TextBox, operation: str) -> bool:
    """Whether ``operation`` would change or copy something in ``box`` now."""
    if isinstance(box, QLineEdit):
        writable = not box.isReadOnly()
        secret = box.echoMode() != QLineEdit.EchoMode.Normal  # a password is never copied
        selected = box.hasSelectedText()
        return {
            "undo": writable and box.isUndoAvailable(),
            "redo": writable and box.isRedoAvailable(),
            "cut": writable and selected and not secret,
            "copy": selected and not secret,
            "paste": writable and _clipboard_has_text(),
            "select_all": bool(box.text()),
        }[operation]
    writable = not box.isReadOnly()
    document = box.document()
    selected = box.textCursor().hasSelection()
    return {
        "undo": writable and document.isUndoAvailable(),
        "redo": writable and document.isRedoAvailable(),
        "cut": writable and selected,
        "copy": selected,
        "paste": writable and box.canPaste(),
        "select_all": not document.isEmpty(),
    }[operation]


def _perform(box: TextBox, operation: str) -> None:
    method: Callable[[], None] = getattr(
        box, "selectAll" if operation == "select_all" else operation
    )
    method()


class TextEditing(QObject):
    """The six items, added to a menu by :func:`add_text_editing`; a child of that menu, so it
    stops listening to the focus and the clipboard when the menu goes."""

    def __init__(self, menu: QMenu) -> None:
        super().__init__(menu)
        self.actions: dict[str, QAction] = {}
        for operation, text, key in _ITEMS:
            action = menu.addAction(text)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _checked=False, op=operation: self.trigger(op))
            self.actions[operation] = action
            if operation == "redo":
                menu.addSeparator()
        menu.addSeparator()
        menu.aboutToShow.connect(self.refresh)
        self._box: TextBox | None = None  # the box focused last, while a menu has the focus
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus)
        QGuiApplication.clipboard().dataChanged.connect(self.refresh)
        self.refresh()

    def action(self, operation: str) -> QAction:
        return self.actions[operation]

    def focused_box(self) -> TextBox | None:
        """The box with the keyboard focus. The menu bar and its menus take the focus while
        they are used (and keep it after Esc): the box focused before them is meant then."""
        widget = QApplication.focusWidget()
        if isinstance(widget, QMenuBar | QMenu):
            box = self._box
            return box if box is not None and shiboken6.isValid(box) else None
        return box_of(widget)

    @Slot(QWidget, QWidget)
    def _on_focus(self, _old: QWidget | None, new: QWidget | None) -> None:
        if not isinstance(new, QMenuBar | QMenu):
            self._box = box_of(new)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        box = self.focused_box()
        for operation in OPERATIONS:
            self.actions[operation].setEnabled(box is not None and can(box, operation))

    def trigger(self, operation: str) -> None:
        box = self.focused_box()
        if box is not None and can(box, operation):
            _perform(box, operation)
        self.refresh()


def add_text_editing(menu: QMenu) -> TextEditing:
    """Add Undo … Select all (and separators) to ``menu``."""
    return TextEditing(menu)
