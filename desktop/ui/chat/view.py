"""The transcript: messages rendered from Markdown, with code highlighting and actions.

The view shows a conversation's messages (``ChatMessage`` objects of the session, which owns
them) and knows each by its key; the links under a message (Copy, Edit, Regenerate) and on each
code block (Copy) carry that key, never a position. Each message is a frame in one
QTextDocument. While an answer streams, only its own frame is re-rendered, at most every 30 ms,
so nothing above it moves; the view follows the answer while the reader is at the bottom, and a
conversation opens at its latest message. A change of theme or font size re-renders what is
shown at once (the colours of code and links come from the palette).

What it costs is bounded by what is shown, never by the conversation: a conversation opens with
its latest page of messages rendered, and pages come in as the reader scrolls (``paging.py``,
which also follows the end of the transcript). A long message shows
its beginning; "Show all" renders the rest in place, its Markdown rendered off the GUI thread,
and a message too long even for that opens in the message viewer, which loads it piece by piece.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QKeyEvent,
    QPalette,
    QTextCursor,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.core.chat import folding
from desktop.core.chat.markdown import DARK, LIGHT, Palette, Rendered
from desktop.core.chat.message import ChatMessage
from desktop.ui.background.tasks import run_in_background
from desktop.ui.chat import frames
from desktop.ui.chat.entry import STREAMING_KEY, Entry
from desktop.ui.chat.message_viewer import MessageViewer
from desktop.ui.chat.paging import CONTEXT_BEFORE_HIT, PagedTranscript

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 30


class ChatView(PagedTranscript):
    # ("edit" | "regenerate" | "older-version" | "newer-version", message key)
    action_requested = Signal(str, int)
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
        self._last_answer = -1  # index of the last answer (the one Regenerate replaces)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self.flush)

    # -- look ------------------------------------------------------------------------------

    def palette_for_markdown(self) -> Palette:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return DARK if dark else LIGHT

    def _user_background(self) -> str:
        return "#2b3340" if self.palette_for_markdown() is DARK else "#eef2f8"

    def _find_last_answer(self) -> None:
        entries = self.entries
        self._last_answer = next(
            (i for i in range(len(entries) - 1, -1, -1) if entries[i].role == "assistant"), -1
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            # Colours and sizes are baked into each message's HTML: render them again now,
            # with the new palette and font (not one change behind).
            self.document().setDefaultFont(self.font())
            self._show_range(self._start, self._end)

    # -- the document --------------------------------------------------------------------

    def _add_frame(self, index: int, cursor: QTextCursor) -> None:
        entry = self.entries[index]
        background = self._user_background() if entry.role == "user" else None
        entry.frame = frames.insert_frame(cursor, background)
        self._render(index)

    def _render(self, index: int) -> None:
        entry = self.entries[index]
        if entry.frame is None:
            return
        palette = self.palette_for_markdown()
        if entry.expanded and entry.rendered_as != (palette, True):
            self._expand(entry)  # rendered whole for another palette: again, off the GUI thread
        frames.fill(entry.frame, entry.html(palette, index == self._last_answer))

    # -- public API ------------------------------------------------------------------------

    def show_messages(
        self,
        messages: Sequence[ChatMessage],
        label_for: Callable[[ChatMessage], str],
        around: int | None = None,
    ) -> None:
        """Replace the transcript with ``messages``, opened at the latest one (``around``: at
        the end of the message with that key, where its links are, e.g. after ‹ or ›)."""
        self.entries = [
            Entry(
                m.key,
                m.role,
                label_for(m),
                m.content,
                m.note,
                citations=m.citations,
                message_id=m.id,
                version=m.version,
                versions=m.versions,
            )
            for m in messages
        ]
        self._find_last_answer()
        end = len(self.entries)
        index = None if around is None else self._index(around)
        if index is None or index == end - 1:
            self._show_range(folding.page_before(self._sizes(), end), end)
            self.scroll_to_bottom()
            return
        start = max(0, index - CONTEXT_BEFORE_HIT)
        self._show_range(start, max(folding.page_after(self._sizes(), start), index + 1))
        self._stick_to_bottom = False
        frame = self.entries[index].frame
        if frame is not None:
            self.setTextCursor(frame.lastCursorPosition())
            self.ensureCursorVisible()

    def update_versions(self, messages: Sequence[ChatMessage]) -> None:
        """The messages' version numbers changed (an edit made a new version of a question
        shown above): their ‹ n/m › lines are drawn again."""
        numbers = {m.key: (m.version, m.versions) for m in messages}
        for index, entry in enumerate(self.entries):
            now = numbers.get(entry.key)
            if now is not None and now != (entry.version, entry.versions):
                entry.version, entry.versions = now
                self._render(index)

    def _append_entry(self, entry: Entry) -> None:
        """A new message at the end (the latest page is shown first)."""
        self.flush()
        self.show_latest()
        self.entries.append(entry)
        self._end = len(self.entries)
        self._add_frame(self._end - 1, frames.at_end(self.document()))

    def add_message(self, message: ChatMessage, label: str) -> None:
        """A question just asked: shown at the end, and the view follows it."""
        self._append_entry(
            Entry(message.key, message.role, label, message.content, message_id=message.id)
        )
        self.scroll_to_bottom()

    def begin_answer(self, label: str) -> None:
        previous = self._last_answer
        self._append_entry(Entry(STREAMING_KEY, "assistant", label, "", streaming=True))
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._last_answer = len(self.entries) - 1
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
        entry.citations, entry.message_id = message.citations, message.id
        entry.version, entry.versions = message.version, message.versions
        entry.forget_rendering()
        if folding.fold(entry.content).folded and len(entry.content) <= folding.EXPAND_CHARS:
            # The reader watched all of it arrive: it stays whole (it was rendered whole at
            # every step), with "Show less"; reopened later, it starts folded.
            palette = self.palette_for_markdown()
            entry.keep_whole(entry.render_whole(palette), palette)
        self._render(len(self.entries) - 1)

    def clear_conversation(self) -> None:
        self.entries = []
        self._last_answer = -1
        self._show_range(0, 0)

    def plain_text(self) -> str:
        self.flush()
        return self.toPlainText()

    # -- long messages ---------------------------------------------------------------------

    def _expand(self, entry: Entry) -> None:
        """Render all of ``entry`` off the GUI thread; it shows its beginning until then."""
        if entry.expanding:
            return
        entry.expanding = True
        palette, content, key = self.palette_for_markdown(), entry.content, entry.key
        run_in_background(
            lambda _progress, _cancel: entry.render_whole(palette),
            lambda rendered: self._expanded(key, content, palette, rendered),
            lambda exc: self._expanded(key, content, palette, exc),
            owner=self,
        )

    def _expanded(
        self, key: int, content: str, palette: Palette, rendered: Rendered | BaseException
    ) -> None:
        index = self._index(key)
        if index is None or self.entries[index].content is not content:
            return  # the conversation changed meanwhile
        entry = self.entries[index]
        if isinstance(rendered, BaseException):
            log.warning("could not render a long message: %s", rendered)
            entry.expanding = False
        else:
            entry.keep_whole(rendered, palette)
        self._render(index)

    def _on_fold_link(self, action: str, entry: Entry) -> None:
        if action == "less":
            entry.forget_rendering()
        elif len(entry.content) > folding.EXPAND_CHARS:
            viewer = MessageViewer(entry.label, entry.content, self.window())
            viewer.show()
            return
        else:
            self._expand(entry)
        index = self._index(entry.key)
        if index is not None:
            self._render(index)
            if action == "less" and entry.frame is not None:
                self._stick_to_bottom = False
                self.setTextCursor(entry.frame.lastCursorPosition())
                self.ensureCursorVisible()

    # -- links -----------------------------------------------------------------------------

    def _index(self, key: int) -> int | None:
        return next((i for i, e in enumerate(self.entries) if e.key == key), None)

    def _entry(self, key: int) -> Entry | None:
        index = self._index(key)
        return None if index is None else self.entries[index]

    def _on_link(self, url: QUrl) -> None:
        kind, _, rest = url.toString().partition(":")
        if kind == "more":
            {"earlier": self.show_earlier, "later": self.show_later}.get(rest, self.show_latest)()
        elif kind == "fold":
            action, _, key = rest.partition(":")
            entry = self._entry(int(key))
            if entry is not None:
                self._on_fold_link(action, entry)
        elif kind == "copy-code":
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
        self._load_at_edges(self.verticalScrollBar().value())
