"""The transcript: the conversation as a read-only document that answers stream into.

Each message is a frame in one QTextDocument. A streaming answer is appended through a cursor
kept at its end, in batches at most every 30 ms, so the view never re-renders what is already
there (no flicker) and follows the answer only while the reader is at the bottom.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextCursor, QTextFrameFormat
from PySide6.QtWidgets import QTextBrowser, QWidget

FLUSH_INTERVAL_MS = 30


class ChatView(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setOpenExternalLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setPlaceholderText(
            "Ask anything. Everything stays on this computer — no account, no cloud."
        )
        self.document().setDocumentMargin(16)
        self._stream_cursor: QTextCursor | None = None
        self._pending = ""
        self._at_start = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)

    # -- building blocks -------------------------------------------------------------------

    def _colors(self) -> tuple[QColor, QColor]:
        base = self.palette().color(QPalette.ColorRole.Base)
        dark = base.lightness() < 128
        user_bg = QColor("#2b3340") if dark else QColor("#eef2f8")
        label = QColor("#9aa5b1") if dark else QColor("#5b6573")
        return user_bg, label

    def _append_frame(self, role: str, label: str) -> QTextCursor:
        user_bg, label_color = self._colors()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        frame_format = QTextFrameFormat()
        frame_format.setPadding(10)
        frame_format.setBottomMargin(10)
        if role == "user":
            frame_format.setBackground(user_bg)
        cursor.insertFrame(frame_format)
        label_format = QTextCharFormat()
        label_format.setFontWeight(QFont.Weight.Bold)
        label_format.setForeground(label_color)
        cursor.insertText(label, label_format)
        cursor.insertBlock()
        cursor.setCharFormat(QTextCharFormat())
        return cursor

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _keep_bottom(self, was_at_bottom: bool) -> None:
        if was_at_bottom:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    # -- public API ------------------------------------------------------------------------

    def add_user_message(self, text: str) -> None:
        self.flush()
        cursor = self._append_frame("user", "You")
        cursor.insertText(text)
        self._keep_bottom(True)  # the reader just sent it: show it

    def begin_answer(self, model_name: str) -> None:
        self.flush()
        self._stream_cursor = self._append_frame("assistant", model_name)
        self._at_start = True
        self._keep_bottom(self._at_bottom())

    def append_delta(self, text: str) -> None:
        if self._stream_cursor is None:
            return
        if self._at_start:  # models often open with a space or a newline
            text = text.lstrip()
            if not text:
                return
            self._at_start = False
        self._pending += text
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._pending or self._stream_cursor is None:
            return
        was_at_bottom = self._at_bottom()
        self._stream_cursor.insertText(self._pending)
        self._pending = ""
        self._keep_bottom(was_at_bottom)

    def end_answer(self, note: str = "") -> None:
        self.flush()
        if self._stream_cursor is not None and note:
            note_format = QTextCharFormat()
            note_format.setForeground(self._colors()[1])
            note_format.setFontItalic(True)
            self._stream_cursor.insertText(("  " if not self._at_start else "") + note, note_format)
        self._stream_cursor = None

    def clear_conversation(self) -> None:
        self._flush_timer.stop()
        self._pending = ""
        self._stream_cursor = None
        self.clear()

    def plain_text(self) -> str:
        """Everything shown, including text still waiting for the next flush."""
        return self.toPlainText() + self._pending

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            event.ignore()  # let the window stop the answer
            return
        super().keyPressEvent(event)
