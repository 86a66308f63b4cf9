"""The transcript: messages rendered from Markdown, with code highlighting and actions.

The view shows a conversation's messages (``ChatMessage`` objects of the session, which owns
them) and knows each by its key; the links under a message (Copy, Edit, Regenerate) and on each
code block (Copy) carry that key, never a position. Each message is a frame in one
QTextDocument. While an answer streams, only its own frame is re-rendered, at most every 30 ms,
so nothing above it moves; the view follows the answer while the reader is at the bottom, and a
conversation opens at its latest message. A change of theme or font size re-renders everything
at once (the colours of code and links come from the palette).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QKeyEvent,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFrame,
    QTextFrameFormat,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.core.chat.markdown import DARK, LIGHT, Palette, render_markdown
from desktop.core.chat.session import ChatMessage
from desktop.core.documents.context import Citation

FLUSH_INTERVAL_MS = 30
STREAMING_KEY = 0  # the answer being produced has no key until the session saves it


@dataclass
class Entry:
    key: int
    role: str
    label: str
    content: str
    note: str = ""
    streaming: bool = False
    frame: QTextFrame | None = None
    code_blocks: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # documents the answer was given


class ChatView(QTextBrowser):
    action_requested = Signal(str, int)  # ("edit" | "regenerate", message key)
    copied = Signal(str)  # what went to the clipboard: "message" or "code"
    source_requested = Signal(int, int)  # message key, citation number (0: all that was given)

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
        self._stick_to_bottom = True
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._keep_following)
        bar.actionTriggered.connect(self._on_reader_scrolled)

    # -- look ------------------------------------------------------------------------------

    def palette_for_markdown(self) -> Palette:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return DARK if dark else LIGHT

    def _user_background(self) -> str:
        return "#2b3340" if self.palette_for_markdown() is DARK else "#eef2f8"

    def _entry_html(self, index: int) -> str:
        entry = self.entries[index]
        palette = self.palette_for_markdown()
        rendered = render_markdown(entry.content, palette, link_prefix=f"copy-code:{entry.key}:")
        entry.code_blocks = rendered.code_blocks
        parts = [
            f'<p style="margin:0px 0px 4px 0px; color:{palette.muted};"><b>'
            f"{html.escape(entry.label)}</b></p>",
            rendered.html or "<p></p>",
        ]
        if entry.note:
            note = html.escape(entry.note)
            parts.append(f'<p style="color:{palette.muted}; font-style:italic;">{note}</p>')
        if entry.citations and not entry.streaming:
            parts.append(self._sources_html(entry, palette))
        if not entry.streaming and entry.key != STREAMING_KEY:
            links = [("copy", "Copy")]
            if entry.role == "user":
                links.append(("edit", "Edit"))
            elif index == self._last_assistant():
                links.append(("regenerate", "Regenerate"))
            anchors = " · ".join(
                f'<a href="action:{name}:{entry.key}" style="color:{palette.link}; '
                f'text-decoration:none;">{label}</a>'
                for name, label in links
            )
            parts.append(f'<p style="font-size:small; margin-top:2px;">{anchors}</p>')
        return "".join(parts)

    @staticmethod
    def _sources_html(entry: Entry, palette: Palette) -> str:
        style = f'style="color:{palette.link}; text-decoration:none;"'
        links = [
            f'<a href="source:{entry.key}:{c.number}" {style}>[{c.number}] '
            f"{html.escape(c.label)}</a>"
            for c in entry.citations
        ]
        links.append(f'<a href="source:{entry.key}:0" {style}>What the model was given</a>')
        return (
            f'<p style="font-size:small; margin-top:4px; color:{palette.muted};">Sources: '
            + " · ".join(links)
            + "</p>"
        )

    def _last_assistant(self) -> int:
        for index in range(len(self.entries) - 1, -1, -1):
            if self.entries[index].role == "assistant":
                return index
        return -1

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            # Colours and sizes are baked into each message's HTML: render them again now,
            # with the new palette and font (not one change behind).
            self.document().setDefaultFont(self.font())
            self._rebuild()

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
        cursor.removeSelectedText()
        # What is left is an empty block that may still belong to the list the answer began
        # with; without a plain format the label would render as list item "1.".
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setCharFormat(QTextCharFormat())
        cursor.insertHtml(self._entry_html(index))

    def _rebuild(self) -> None:
        entries = self.entries
        self._flush_timer.stop()
        self._pending = False
        self.clear()
        self.entries = entries
        for index, entry in enumerate(entries):
            self._append_frame(entry)
            self._render(index)

    def _at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.verticalScrollBar().setValue(maximum)

    def _keep_following(self, value: int) -> None:
        # While following the end, layout passes and resizes (which keep the top line in
        # place) must not leave the view above it.
        bar = self.verticalScrollBar()
        if self._stick_to_bottom and value != bar.maximum():
            bar.setValue(bar.maximum())

    def _on_reader_scrolled(self, _action: int) -> None:
        """The reader moved the scroll bar (drag, wheel, arrows): follow the end only if they
        went back to it. Layout and resizes move it too, but do not change what to follow."""
        bar = self.verticalScrollBar()
        self._stick_to_bottom = bar.sliderPosition() >= bar.maximum() - 4

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._stick_to_bottom:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    def scroll_to_bottom(self) -> None:
        self._stick_to_bottom = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    # -- public API ------------------------------------------------------------------------

    def show_messages(
        self, messages: Sequence[ChatMessage], label_for: Callable[[ChatMessage], str]
    ) -> None:
        """Replace the transcript with ``messages``, opened at the latest one."""
        self.entries = [
            Entry(m.key, m.role, label_for(m), m.content, m.note, citations=m.citations)
            for m in messages
        ]
        self._rebuild()
        self.scroll_to_bottom()

    def add_message(self, message: ChatMessage, label: str) -> None:
        """A question just asked: shown at the end, and the view follows it."""
        self.flush()
        self.entries.append(Entry(message.key, message.role, label, message.content))
        self._append_frame(self.entries[-1])
        self._render(len(self.entries) - 1)
        self.scroll_to_bottom()

    def begin_answer(self, label: str) -> None:
        self.flush()
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        previous = self._last_assistant()
        self.entries.append(Entry(STREAMING_KEY, "assistant", label, "", streaming=True))
        self._append_frame(self.entries[-1])
        self._render(len(self.entries) - 1)
        if previous >= 0:
            self._render(previous)  # it is no longer the one to regenerate
        self.scroll_to_bottom()

    @property
    def streaming(self) -> bool:
        return bool(self.entries) and self.entries[-1].streaming

    def append_delta(self, text: str) -> None:
        if not self.streaming or not text:
            return
        self.entries[-1].content += text
        self._pending = True
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._pending or not self.entries:
            return
        self._pending = False
        started = time.perf_counter()
        self._render(len(self.entries) - 1)
        # A long answer takes longer to render: flush less often so typing stays smooth.
        spent_ms = (time.perf_counter() - started) * 1000
        self._flush_timer.setInterval(max(FLUSH_INTERVAL_MS, int(spent_ms * 3)))

    def end_answer(self, message: ChatMessage) -> None:
        """The streamed answer is complete: show it as the session saved it."""
        if not self.streaming:
            return
        self._flush_timer.stop()
        self._pending = False
        entry = self.entries[-1]
        entry.key, entry.content, entry.note, entry.streaming = (
            message.key,
            message.content,
            message.note,
            False,
        )
        entry.citations = message.citations
        self._render(len(self.entries) - 1)

    def clear_conversation(self) -> None:
        self.entries = []
        self._rebuild()

    def plain_text(self) -> str:
        self.flush()
        return self.toPlainText()

    # -- links -----------------------------------------------------------------------------

    def _entry(self, key: int) -> Entry | None:
        return next((e for e in self.entries if e.key == key), None)

    def _on_link(self, url: QUrl) -> None:
        kind, _, rest = url.toString().partition(":")
        if kind == "copy-code":
            key, _, block = rest.partition(":")
            entry = self._entry(int(key))
            if entry is not None and int(block) < len(entry.code_blocks):
                QGuiApplication.clipboard().setText(entry.code_blocks[int(block)])
                self.copied.emit("code")
        elif kind == "source":
            key, _, number = rest.partition(":")
            self.source_requested.emit(int(key), int(number))
        elif kind == "action":
            name, _, key = rest.partition(":")
            entry = self._entry(int(key))
            if entry is None:
                return
            if name == "copy":
                QGuiApplication.clipboard().setText(entry.content)
                self.copied.emit("message")
            else:
                self.action_requested.emit(name, entry.key)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            event.ignore()  # let the window stop the answer
            return
        self._stick_to_bottom = False
        super().keyPressEvent(event)  # Page Up, Home…: the reader may scroll
        self._stick_to_bottom = self._at_bottom()
