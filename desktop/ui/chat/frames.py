"""The transcript's document (``view.py``): one QTextFrame per message, and a line of links in
the document's first and last blocks ("Show earlier messages", "Show later messages").

A frame is always followed by a block of its parent, so the document reads: the first block
(the top line), then each message's frame with a block after it; the last of those blocks is
the bottom line. A frame inserted at the end of the first block goes above every other one:
that is how earlier messages are added without touching the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFrame,
    QTextFrameFormat,
)


def insert_frame(cursor: QTextCursor, background: str | None) -> QTextFrame:
    frame_format = QTextFrameFormat()
    frame_format.setPadding(10)
    frame_format.setBottomMargin(8)
    if background is not None:
        frame_format.setBackground(QColor(background))
    return cursor.insertFrame(frame_format)


def at_end(document: QTextDocument) -> QTextCursor:
    cursor = QTextCursor(document)
    cursor.movePosition(QTextCursor.MoveOperation.End)
    return cursor


def at_top(document: QTextDocument) -> QTextCursor:
    """Where a frame goes to be the first one."""
    cursor = QTextCursor(document.firstBlock())
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
    return cursor


def fill(frame: QTextFrame, html: str) -> None:
    """Replace what ``frame`` holds by ``html``."""
    cursor = frame.firstCursorPosition()
    cursor.setPosition(frame.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()
    # What is left is an empty block that may still belong to the list the answer began
    # with; without a plain format the label would render as list item "1.".
    cursor.setBlockFormat(QTextBlockFormat())
    cursor.setCharFormat(QTextCharFormat())
    cursor.insertHtml(html)


def top_of(document: QTextDocument, frame: QTextFrame) -> float:
    """Where ``frame`` starts in the laid-out document, in pixels."""
    return document.documentLayout().frameBoundingRect(frame).top()


def set_links(block: QTextBlock, links: Sequence[tuple[str, str]], colour: str) -> None:
    """Make ``block`` a centred line of ``links`` ((href, text) pairs), or empty."""
    cursor = QTextCursor(block)
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()
    block_format = QTextBlockFormat()
    if links:
        block_format.setAlignment(Qt.AlignmentFlag.AlignCenter)
        block_format.setTopMargin(4)
        block_format.setBottomMargin(8)
    cursor.setBlockFormat(block_format)
    plain = QTextCharFormat()
    for number, (href, text) in enumerate(links):
        if number:
            cursor.insertText("  ·  ", plain)
        link = QTextCharFormat()
        link.setAnchor(True)
        link.setAnchorHref(href)
        link.setForeground(QColor(colour))
        cursor.insertText(text, link)
    cursor.setCharFormat(plain)
