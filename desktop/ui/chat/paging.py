"""Paging of the transcript: which messages are in its document, and the scroll bar.

What the transcript costs is bounded by what is shown, never by the conversation
(``core/chat/folding.py`` has the figures). ``entries[_start:_end]`` are in the document; "Show
earlier messages" at the top (or scrolling up to it) adds the page before, a jump to an older
message (a search hit) shows the page around it with "Show later messages" below, and the view
follows the end while the reader is at the bottom. ``ChatView`` adds the messages themselves
(rendering, streaming, links); this part knows them only as entries with a size and a frame.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.core.chat import folding
from desktop.core.chat.markdown import Palette
from desktop.ui.chat import frames
from desktop.ui.chat.entry import Entry

CONTEXT_BEFORE_HIT = 2  # messages shown above a message jumped to


class PagedTranscript(QTextBrowser):
    """A text browser showing a window of ``entries``, a page at a time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[Entry] = []
        self._start = self._end = 0  # entries[_start:_end] are in the document
        self._pending = False  # a streamed change waits for the flush timer
        self._stick_to_bottom = True
        self._flush_timer = QTimer(self)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._keep_following)
        bar.actionTriggered.connect(self._on_reader_scrolled)

    @property
    def shown(self) -> range:
        """The indexes of the entries in the document now."""
        return range(self._start, self._end)

    def palette_for_markdown(self) -> Palette:
        raise NotImplementedError

    def _add_frame(self, index: int, cursor: QTextCursor) -> None:
        """Put entries[index] into the document at ``cursor``."""
        raise NotImplementedError

    # -- the window of entries -------------------------------------------------------------

    def _show_range(self, start: int, end: int) -> None:
        """Replace the document by entries[start:end]."""
        for entry in self.entries[self._start : self._end]:
            entry.frame = None  # (after a new conversation came in, these may be others)
        self._flush_timer.stop()
        self._pending = False
        entries = self.entries
        self.clear()
        self.entries = entries
        self._start, self._end = start, end
        for index in self.shown:
            self._add_frame(index, frames.at_end(self.document()))
        self._update_edges()

    def _sizes(self) -> list[int]:
        return [len(entry.content) for entry in self.entries]

    def _update_edges(self) -> None:
        """ "Show earlier messages" in the document's first block, "Show later messages" in its
        last, when there are any."""
        document, colour = self.document(), self.palette_for_markdown().link
        earlier, later = self._start, len(self.entries) - self._end
        frames.set_links(
            document.firstBlock(),
            [("more:earlier", f"Show earlier messages ({earlier:,} more)")] if earlier else [],
            colour,
        )
        if document.blockCount() > 1:  # with no message shown there is one block, and no edge
            frames.set_links(
                document.lastBlock(),
                [
                    ("more:later", f"Show later messages ({later:,} more)"),
                    ("more:latest", "Go to the latest"),
                ]
                if later
                else [],
                colour,
            )

    # -- pages -----------------------------------------------------------------------------

    def show_earlier(self) -> None:
        """Add the page of messages before the first one shown, keeping the reader's place."""
        if self._start == 0:
            return
        start = folding.page_before(self._sizes(), self._start)
        bar, document = self.verticalScrollBar(), self.document()
        first = self.entries[self._start].frame
        offset = frames.top_of(document, first) - bar.value() if first else 0.0
        frames.set_links(document.firstBlock(), [], "")
        for index in range(self._start - 1, start - 1, -1):  # each goes above the others
            self._add_frame(index, frames.at_top(document))
        self._start = start
        self._update_edges()
        if first is not None:
            bar.setValue(int(frames.top_of(document, first) - offset))

    def show_later(self) -> None:
        """Add the page of messages after the last one shown."""
        if self._end >= len(self.entries):
            return
        end = folding.page_after(self._sizes(), self._end)
        frames.set_links(self.document().lastBlock(), [], "")
        for index in range(self._end, end):
            self._add_frame(index, frames.at_end(self.document()))
        self._end = end
        self._update_edges()

    def show_latest(self) -> None:
        """Show the latest page, opened at the end (where new messages go)."""
        end = len(self.entries)
        if self._end != end:
            self._show_range(folding.page_before(self._sizes(), end), end)
        self.scroll_to_bottom()

    def show_match(self, text: str, message_id: int | None = None) -> bool:
        """Show the message with history id ``message_id`` (else the latest one containing
        ``text``), with the page around it, and select ``text`` in it where it is shown."""
        index = next(
            (i for i, e in enumerate(self.entries) if message_id and e.message_id == message_id),
            None,
        )
        wanted = text.casefold()
        if index is None and wanted:
            index = next(
                (
                    i
                    for i in range(len(self.entries) - 1, -1, -1)
                    if wanted in self.entries[i].content.casefold()
                ),
                None,
            )
        if index is None:
            return False
        if index not in self.shown:
            start = max(0, index - CONTEXT_BEFORE_HIT)
            self._show_range(start, max(folding.page_after(self._sizes(), start), index + 1))
        self._stick_to_bottom = False
        frame = self.entries[index].frame
        assert frame is not None
        found = self.document().find(text, frame.firstPosition()) if text else QTextCursor()
        if found.isNull() or found.position() > frame.lastPosition():
            found = frame.firstCursorPosition()
        self.setTextCursor(found)
        self.ensureCursorVisible()
        return True

    # -- following the end -----------------------------------------------------------------

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
        went back to it. Layout and resizes move it too, but do not change what to follow.
        At either end of what is shown, the next page comes in."""
        bar = self.verticalScrollBar()
        self._stick_to_bottom = bar.sliderPosition() >= bar.maximum() - 4
        self._load_at_edges(bar.sliderPosition())

    def _load_at_edges(self, position: int) -> None:
        bar = self.verticalScrollBar()
        if position <= bar.minimum() and self._start > 0:
            QTimer.singleShot(0, self.show_earlier)
        elif position >= bar.maximum() and self._end < len(self.entries):
            QTimer.singleShot(0, self.show_later)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._stick_to_bottom:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    def scroll_to_bottom(self) -> None:
        self._stick_to_bottom = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
