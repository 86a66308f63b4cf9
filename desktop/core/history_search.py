"""Search helpers of the conversation store: the user's words as a safe FTS5 query, text made
storable, and the snippet shown for a hit.

FTS5 finds the matching messages in milliseconds, but its ``snippet()`` tokenizes the whole
message and scores every occurrence: seconds for one word repeated 20,000 times, minutes for a
10 MB message. So the snippet is computed here from a bounded window around the first match:
its cost depends on the snippet's size, not the message's.
"""

from __future__ import annotations

import html
import re

from desktop.core.markdown import plain_text

SCAN_BYTES = 256 << 10  # where the first match is looked for; a later one shows the start
CONTEXT_BEFORE, CONTEXT_AFTER = 60, 140  # characters of the message around the first match
_HIT_START, _HIT_END = "\x02", "\x03"
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_NOT_QUERY = re.compile('[\x00-\x1f\x7f\ud800-\udfff"]')


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
