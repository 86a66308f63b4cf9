"""The transcript: messages rendered from Markdown, with code highlighting and actions.

Each message is a frame in one QTextDocument. While an answer streams, only its own frame is
re-rendered, at most every 30 ms, so nothing above it moves (no flicker, no scroll jumps) and
the view follows the answer only while the reader is at the bottom. Links under each message
(Copy, Edit, Regenerate) and on each code block (Copy) are handled here or passed up as
``action_requested``.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QPalette,
    QTextCursor,
    QTextFrame,
    QTextFrameFormat,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.core.markdown import DARK, LIGHT, Palette, render_markdown

FLUSH_INTERVAL_MS = 30


@dataclass
class Entry:
    role: str
    label: str
    content: str
    note: str = ""
    streaming: bool = False
    frame: QTextFrame | None = None
    code_blocks: list[str] = field(default_factory=list)


class ChatView(QTextBrowser):
    action_requested = Signal(str, int)  # ("edit" | "regenerate", message index)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setOpenLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setPlaceholderText(
            "Ask anything. Everything stays on this computer — no account, no cloud."
        )
        self.document().setDocumentMargin(16)
        self.anchorClicked.connect(self._on_link)
        self.entries: list[Entry] = []
        self._pending = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)

    # -- look ------------------------------------------------------------------------------

    def palette_for_markdown(self) -> Palette:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return DARK if dark else LIGHT

    def _user_background(self) -> str:
        return "#2b3340" if self.palette_for_markdown() is DARK else "#eef2f8"

    def _entry_html(self, index: int) -> str:
        entry = self.entries[index]
        palette = self.palette_for_markdown()
        rendered = render_markdown(entry.content, palette, link_prefix=f"copy-code:{index}:")
        entry.code_blocks = rendered.code_blocks
        parts = [
            f'<p style="margin:0px 0px 4px 0px; color:{palette.muted};"><b>'
            f"{html.escape(entry.label)}</b></p>",
            rendered.html or "<p></p>",
        ]
        if entry.note:
            note = html.escape(entry.note)
            parts.append(f'<p style="color:{palette.muted}; font-style:italic;">{note}</p>')
        if not entry.streaming:
            links = [("copy", "Copy")]
            if entry.role == "user":
                links.append(("edit", "Edit"))
            elif index == self._last_assistant():
                links.append(("regenerate", "Regenerate"))
            anchors = " · ".join(
                f'<a href="action:{name}:{index}" style="color:{palette.link}; '
                f'text-decoration:none;">{label}</a>'
                for name, label in links
            )
            parts.append(f'<p style="font-size:small; margin-top:2px;">{anchors}</p>')
        return "".join(parts)

    def _last_assistant(self) -> int:
        for index in range(len(self.entries) - 1, -1, -1):
            if self.entries[index].role == "assistant":
                return index
        return -1

    # -- document surgery ------------------------------------------------------------------

    def _append_frame(self, entry: Entry) -> None:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        frame_format = QTextFrameFormat()
        frame_format.setPadding(10)
        frame_format.setBottomMargin(8)
        if entry.role == "user":
            frame_format.setBackground(QColor(self._user_background()))
        entry.frame = cursor.insertFrame(frame_format)

    def _render(self, index: int) -> None:
        entry = self.entries[index]
        if entry.frame is None:
            return
        cursor = entry.frame.firstCursorPosition()
        cursor.setPosition(entry.frame.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
        cursor.insertHtml(self._entry_html(index))

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _follow(self, was_at_bottom: bool) -> None:
        if was_at_bottom:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    # -- public API ------------------------------------------------------------------------

    def show_messages(self, messages: list[tuple[str, str, str]]) -> None:
        """Replace the transcript with (role, label, content) messages."""
        self.clear_conversation()
        for role, label, content in messages:
            self.entries.append(Entry(role, label, content))
        for index, entry in enumerate(self.entries):
            self._append_frame(entry)
            self._render(index)
        self._follow(True)

    def add_message(self, role: str, label: str, content: str) -> int:
        self.flush()
        previous = self._last_assistant()
        self.entries.append(Entry(role, label, content))
        index = len(self.entries) - 1
        self._append_frame(self.entries[index])
        self._render(index)
        if previous >= 0 and role == "assistant":
            self._render(previous)  # it is no longer the one to regenerate
        self._follow(True)  # the reader just sent it: show it
        return index

    def begin_answer(self, label: str) -> None:
        self.flush()
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        previous = self._last_assistant()
        self.entries.append(Entry("assistant", label, "", streaming=True))
        self._append_frame(self.entries[-1])
        self._render(len(self.entries) - 1)
        if previous >= 0:
            self._render(previous)
        self._follow(True)

    def append_delta(self, text: str) -> None:
        if not self.entries or not self.entries[-1].streaming:
            return
        entry = self.entries[-1]
        if not entry.content:  # models often open with a space or a newline
            text = text.lstrip()
            if not text:
                return
        entry.content += text
        self._pending = True
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._pending or not self.entries:
            return
        self._pending = False
        was_at_bottom = self._at_bottom()
        started = time.perf_counter()
        self._render(len(self.entries) - 1)
        # A long answer takes longer to render: flush less often so typing stays smooth.
        spent_ms = (time.perf_counter() - started) * 1000
        self._flush_timer.setInterval(max(FLUSH_INTERVAL_MS, int(spent_ms * 3)))
        self._follow(was_at_bottom)

    def end_answer(self, note: str = "") -> None:
        if not self.entries or not self.entries[-1].streaming:
            return
        self._flush_timer.stop()
        self._pending = False
        was_at_bottom = self._at_bottom()
        entry = self.entries[-1]
        entry.streaming = False
        entry.note = note
        self._render(len(self.entries) - 1)
        self._follow(was_at_bottom)

    def remove_from(self, index: int) -> None:
        """Drop message ``index`` and everything after it (edit and resend, regenerate)."""
        kept = [(e.role, e.label, e.content) for e in self.entries[:index]]
        notes = [e.note for e in self.entries[:index]]
        self.show_messages(kept)
        for entry, note in zip(self.entries, notes, strict=True):
            entry.note = note

    def clear_conversation(self) -> None:
        self._flush_timer.stop()
        self._pending = False
        self.entries = []
        self.clear()

    def plain_text(self) -> str:
        self.flush()
        return self.toPlainText()

    # -- links -----------------------------------------------------------------------------

    def _on_link(self, url: QUrl) -> None:
        target = url.toString()
        kind, _, rest = target.partition(":")
        if kind == "copy-code":
            entry, _, block = rest.partition(":")
            QGuiApplication.clipboard().setText(self.entries[int(entry)].code_blocks[int(block)])
        elif kind == "action":
            name, _, index = rest.partition(":")
            if name == "copy":
                QGuiApplication.clipboard().setText(self.entries[int(index)].content)
            else:
                self.action_requested.emit(name, int(index))

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            event.ignore()  # let the window stop the answer
            return
        super().keyPressEvent(event)
