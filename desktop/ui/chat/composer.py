"""The box where the user types: Enter (or Ctrl+Enter) sends, Shift+Enter starts a new line,
Up in an empty box edits the last question.

It holds at most :data:`~desktop.core.chat.folding.LONGEST_QUESTION` characters: a paste (or a
drop) that would make it longer is refused whole, with ``refused`` saying why, before any of it
reaches the editor (Qt's editor takes about a second per megabyte it is given, and a pasted log
can be tens of megabytes)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from desktop.core.chat.folding import LONGEST_QUESTION, size_text

MAX_VISIBLE_LINES = 8
PLACEHOLDER = "Ask anything…  (Enter sends, Shift+Enter adds a line)"
SHORT_PLACEHOLDER = "Ask anything…"  # where the whole hint does not fit on the box's one line


class Composer(QPlainTextEdit):
    submitted = Signal(str)
    edit_last_requested = Signal()
    refused = Signal(str)  # why a paste or a drop was not taken

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setPlaceholderText(PLACEHOLDER)
        self.setTabChangesFocus(True)
        self.textChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            self.submit()
            return
        if event.key() == Qt.Key.Key_Up and not self.toPlainText():
            self.edit_last_requested.emit()
            return
        super().keyPressEvent(event)

    def room(self) -> int:
        """How many more characters the box takes (what is selected would be replaced)."""
        cursor = self.textCursor()
        selected = cursor.selectionEnd() - cursor.selectionStart()
        return LONGEST_QUESTION - (self.document().characterCount() - 1 - selected)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if source.hasText():
            length = len(source.text())
            if length > self.room():
                self.refused.emit(too_long_message(length))
                return
        super().insertFromMimeData(source)

    def submit(self) -> None:
        text = self.toPlainText().strip()
        if text:
            self.submitted.emit(text)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_height()
            self._fit_placeholder()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_placeholder()

    def _fit_placeholder(self) -> None:
        """The whole hint where it fits on one line, else the short one (a placeholder that
        wraps in a one-line box is cut in half)."""
        room = self.viewport().width() - 2 * int(self.document().documentMargin()) - 4
        fits = self.fontMetrics().horizontalAdvance(PLACEHOLDER) <= room
        text = PLACEHOLDER if fits else SHORT_PLACEHOLDER
        if self.placeholderText() != text:
            self.setPlaceholderText(text)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit_height()  # the style sheet's padding is known once the widget is polished

    def _fit_height(self) -> None:
        lines = max(1, min(self.document().blockCount(), MAX_VISIBLE_LINES))
        line_height = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins()  # the style sheet's padding and border, once polished
        frame = int(self.document().documentMargin() * 2) + margins.top() + margins.bottom()
        self.setFixedHeight(lines * line_height + frame + 2)


def too_long_message(length: int) -> str:
    return (
        f"That text is {size_text(length)} long; a question holds at most "
        f"{LONGEST_QUESTION:,}. Paste a part of it, or add the file to a document collection "
        "(Documents → Collections…) and ask about it."
    )
