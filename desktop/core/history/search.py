"""Search in the conversation store: the user's words as a safe FTS5 query, the newest
matching message of each chat, text made storable, and the snippet shown for a hit.

FTS5 finds the matching messages in milliseconds, but its ``snippet()`` tokenizes the whole
message and scores every occurrence: seconds for one word repeated 20,000 times, minutes for a
10 MB message. So the snippet is computed here from a bounded window around the first match:
its cost depends on the snippet's size, not the message's.
"""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import dataclass

from desktop.core.chat.markdown import plain_text

SCAN_BYTES = 256 << 10  # where the first match is looked for; a later one shows the start
CONTEXT_BEFORE, CONTEXT_AFTER = 60, 140  # characters of the message around the first match
_HIT_START, _HIT_END = "\x02", "\x03"
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_NOT_QUERY = re.compile('[\x00-\x1f\x7f\ud800-\udfff"]')


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    message_id: int
    title: str
    snippet_html: str  # escaped text with the matches in <b>…</b>


def newest_matches(db: sqlite3.Connection, query: str, text: str, limit: int) -> list[SearchHit]:
    """One hit per chat (not deleted) with a shown message (the version of each turn the chat
    shows) matching the FTS5 ``query``: its newest matching message, newest chats first;
    ``text`` is what the user typed (for the snippet)."""
    # Newest matches first: FTS5 walks its index in rowid order, so a common word costs
    # no more than a rare one (ranking would score every match).
    newest = db.execute(
        "SELECT m.conversation_id, MAX(m.id) AS message_id FROM messages_fts "
        "JOIN messages m ON m.id = messages_fts.rowid "
        "JOIN conversations c ON c.id = m.conversation_id "
        "WHERE messages_fts MATCH ? AND m.shown = 1 AND c.deleted_at IS NULL "
        "GROUP BY m.conversation_id ORDER BY message_id DESC LIMIT ?",
        (query, limit),
    ).fetchall()
    if not newest:
        return []
    marks = ", ".join("?" * len(newest))
    titles = dict(
        db.execute(
            f"SELECT id, title FROM conversations WHERE id IN ({marks})",
            [conversation for conversation, _ in newest],
        ).fetchall()
    )
    return [
        SearchHit(
            conversation,
            message,
            titles.get(conversation, ""),
            snippet_html(_head(db, message), text),
        )
        for conversation, message in newest
    ]


def _head(db: sqlite3.Connection, message_id: int) -> str:
    """The first ``SCAN_BYTES`` of a message, without reading the rest of it (a 10 MB message
    costs what a short one does); SQLite's text functions would also stop at a NUL."""
    if hasattr(db, "blobopen"):  # Python 3.11+
        with db.blobopen("messages", "content", message_id, readonly=True) as blob:
            head = blob.read(SCAN_BYTES)
    else:
        (head,) = db.execute(
            "SELECT substr(CAST(content AS BLOB), 1, ?) FROM messages WHERE id = ?",
            (SCAN_BYTES, message_id),
        ).fetchone()
    return bytes(head).decode("utf-8", "ignore")  # a character cut at the end is dropped


def storable(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8, and so SQLite, cannot hold) as U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def query_words(text: str) -> list[str]:
    """The words of a search: control characters (NUL…), lone surrogates and quotes are
    separators, as they are in the messages' index."""
    return _NOT_QUERY.sub(" ", text).split()


def fts_query(text: str) -> str:
    """User words → an FTS5 query: every word must match, as a prefix; no syntax leaks."""
    return " ".join(f'"{w}"*' for w in query_words(text))


def _pattern(words: list[str]) -> re.Pattern[str]:
    """A word's prefix at the start of a token (letters and digits, as FTS5's unicode61)."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})", re.IGNORECASE)


def snippet_html(content: str, text: str) -> str:
    """A short passage of ``content`` around the first match of ``text``'s words, as escaped
    HTML with the matches in <b>…</b> and Markdown shown as text ("…" where it is cut)."""
    words = query_words(text)
    pattern = _pattern(words) if words else None
    first = pattern.search(content) if pattern else None
    start = max((first.start() if first else 0) - CONTEXT_BEFORE, 0)
    end = min(start + CONTEXT_BEFORE + CONTEXT_AFTER, len(content))
    if start > 0:  # begin at a word
        space = content.find(" ", start, start + 20)
        start = space + 1 if space != -1 else start
    window = _CONTROL.sub(" ", content[start:end])  # NUL…, and our markers
    if pattern is not None:
        window = pattern.sub(lambda m: f"{_HIT_START}{m.group(0)}{_HIT_END}", window)
    passage = plain_text(window).replace("\n", " ").strip()
    passage = ("…" if start > 0 else "") + passage + ("…" if end < len(content) else "")
    escaped = html.escape(passage)
    return escaped.replace(_HIT_START, "<b>").replace(_HIT_END, "</b>")
