"""The message viewer: a message too long for the transcript (a pasted log, an imported file of
tens of megabytes), shown whole, a piece at a time.

Qt's text widgets hold and lay out all the text they are given: 50 MB in a QPlainTextEdit takes
about 40 s and 800 MB here. So the viewer gives its editor only a few pieces of the message
(:data:`PIECE_CHARS` each, cut at a line end near the limit): the next piece comes in when the
reader scrolls to the end of what is loaded, the one before at its top, and at most
:data:`MOST_PIECES` are held, so any message costs what a quarter of a megabyte does. The slider
below moves anywhere in the message at once. "Copy all" and "Save as…" take the whole message.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QTextCursor, QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from conversion.output import atomic_write_text
from desktop.core.chat.folding import size_text
from desktop.ui import dialogs
from desktop.ui.errors import show_error

log = logging.getLogger(__name__)

PIECE_CHARS = 64_000
MOST_PIECES = 4
_LINE_SEARCH = 2_000  # how far past a piece's limit a line end is looked for


class MessageViewer(QDialog):
    def __init__(self, label: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageViewer")
        self.setWindowTitle(f"{label} — {size_text(len(text))}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.text = text
        self.pieces: list[tuple[int, int, int]] = []  # (start, end, length in the editor)
        self._moving = False  # pieces are coming in or going: scrolling is ours, not the reader's
        layout = QVBoxLayout(self)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("messageText")
        self.editor.setReadOnly(True)
        self.editor.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.editor.setUndoRedoEnabled(False)
        layout.addWidget(self.editor, 1)
        self.where = QLabel(self)
        self.where.setObjectName("messagePosition")
        layout.addWidget(self.where)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("messageSlider")
        self.slider.setRange(0, max(len(text) - 1, 0))
        self.slider.setPageStep(PIECE_CHARS)
        self.slider.setSingleStep(PIECE_CHARS // 8)
        self.slider.setToolTip("Where in the message: drag to move anywhere in it")
        layout.addWidget(self.slider)
        row = QHBoxLayout()
        row.addStretch(1)
        self.copy_button = QPushButton("Copy all", self)
        self.copy_button.clicked.connect(self.copy_all)
        row.addWidget(self.copy_button)
        self.save_button = QPushButton("Save as…", self)
        self.save_button.clicked.connect(self.save_as)
        row.addWidget(self.save_button)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        close.setDefault(True)
        row.addWidget(close)
        layout.addLayout(row)
        self.editor.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderReleased.connect(lambda: self.show_from(self.slider.value()))
        width = parent.width() * 3 // 4 if parent is not None else 900
        height = parent.height() * 3 // 4 if parent is not None else 650
        self.resize(max(width, 500), max(height, 360))
        self.show_from(0)

    # -- the pieces ------------------------------------------------------------------------

    @property
    def loaded(self) -> tuple[int, int]:
        """The part of the message in the editor now: (start, end) in characters."""
        return (self.pieces[0][0], self.pieces[-1][1]) if self.pieces else (0, 0)

    def _end_after(self, start: int) -> int:
        end = start + PIECE_CHARS
        if end >= len(self.text):
            return len(self.text)
        line_end = self.text.find("\n", end, end + _LINE_SEARCH)
        return line_end + 1 if line_end >= 0 else end

    def _start_before(self, end: int) -> int:
        start = end - PIECE_CHARS
        if start <= 0:
            return 0
        line_end = self.text.rfind("\n", max(start - _LINE_SEARCH, 0), start)
        return line_end + 1 if line_end >= 0 else start

    def _insert(self, position: int, start: int, end: int) -> int:
        """Put text[start:end] at ``position`` of the editor; its length there (in the editor's
        own units, which count a character beyond the BMP twice)."""
        document = self.editor.document()
        before = document.characterCount()
        cursor = QTextCursor(document)
        cursor.setPosition(position)
        cursor.insertText(self.text[start:end])
        return document.characterCount() - before

    def _remove(self, position: int, length: int) -> None:
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()

    def _top(self) -> int:
        """Where in the editor the first line in view starts."""
        return self.editor.cursorForPosition(QPoint(0, 0)).position()

    def _scroll_to(self, position: int) -> None:
        """Scroll so the line holding ``position`` is the first in view (a line of a long
        wrapped paragraph, too: a message may be one line of megabytes)."""
        document = self.editor.document()
        block = document.findBlock(max(position, 0))
        document.documentLayout().blockBoundingRect(block)  # lays the block out
        line = block.layout().lineForTextPosition(max(position - block.position(), 0))
        within = line.lineNumber() if line.isValid() else 0
        self.editor.verticalScrollBar().setValue(block.firstLineNumber() + within)

    def show_from(self, offset: int) -> None:
        """Load the message from the line holding character ``offset`` on, shown at the top."""
        offset = min(max(offset, 0), max(len(self.text) - 1, 0))
        line_start = self.text.rfind("\n", max(offset - _LINE_SEARCH, 0), offset)
        start = line_start + 1 if line_start >= 0 else max(offset - offset % PIECE_CHARS, 0)
        self._moving = True
        try:
            self.editor.clear()
            self.pieces = []
            end = self._end_after(start)
            self.pieces.append((start, end, self._insert(0, start, end)))
            self._scroll_to(0)
        finally:
            self._moving = False
        self._on_scrolled(0)

    def _load_next(self) -> None:
        start = self.loaded[1]
        end = self._end_after(start)
        document = self.editor.document()
        self.pieces.append((start, end, self._insert(document.characterCount() - 1, start, end)))
        if len(self.pieces) > MOST_PIECES:
            top = self._top()
            _, _, length = self.pieces.pop(0)
            self._remove(0, length)
            self._scroll_to(top - length)

    def _load_previous(self) -> None:
        end = self.loaded[0]
        start = self._start_before(end)
        top = self._top()
        length = self._insert(0, start, end)
        self.pieces.insert(0, (start, end, length))
        self._scroll_to(top + length)
        if len(self.pieces) > MOST_PIECES:
            _, _, last = self.pieces.pop()
            total = self.editor.document().characterCount() - 1
            self._remove(total - last, last)

    def _on_scrolled(self, _value: int) -> None:
        if self._moving or not self.pieces:
            return
        bar = self.editor.verticalScrollBar()
        self._moving = True
        try:
            start, end = self.loaded
            if bar.value() >= bar.maximum() - bar.pageStep() and end < len(self.text):
                self._load_next()
            elif bar.value() <= bar.minimum() and start > 0:
                self._load_previous()
        finally:
            self._moving = False
        self._say_where()

    def _say_where(self) -> None:
        start, end = self.loaded
        first = start + min(self._top(), end - start)  # (units beyond the BMP count twice)
        self.where.setText(
            f"Characters {start + 1:,}–{end:,} of {len(self.text):,} are loaded; scroll, or "
            "drag the slider to move anywhere in the message."
        )
        self.slider.blockSignals(True)
        self.slider.setValue(first)
        self.slider.blockSignals(False)

    def _on_slider(self, value: int) -> None:
        if not self.slider.isSliderDown():  # keys and clicks on the groove; a drag at its end
            self.show_from(value)

    # -- the whole message -----------------------------------------------------------------

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.where.setText(f"Copied all {size_text(len(self.text))} to the clipboard.")

    def save_as(self) -> None:
        dialogs.save_file(
            self, "Save message", self.save_to, "Text (*.txt)", Path.home() / "message.txt"
        )

    def save_to(self, path: Path) -> None:
        try:
            atomic_write_text(path, self.text)
        except OSError as exc:
            show_error(self, HuacayaError(f"Could not write “{path}”: {exc.strerror}."))
            return
        self.where.setText(f"Saved to {path}.")
