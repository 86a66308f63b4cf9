"""How much of a conversation the window renders at once, so that what it costs is bounded by
what a person can see, never by how long a message or a conversation is.

Measured with the window's own transcript (a QTextDocument) on 2 cores: rendering costs about
50 µs per character of highlighted code and a few µs per character of prose, and a megabyte of
text in the document takes seconds and about 100 MB. A chat export may hold 60 MB messages and
100,000 messages, and a person may paste a whole log. So:

- a message longer than :data:`FOLD_CHARS` characters or :data:`FOLD_LINES` lines is folded:
  the transcript renders its beginning, with "Show all";
- "Show all" renders up to :data:`EXPAND_CHARS` characters in place (its Markdown off the GUI
  thread); a longer message is shown by the message viewer, which loads it piece by piece as it
  is scrolled;
- a conversation opens at its latest messages: at most :data:`PAGE_MESSAGES` of them and about
  :data:`PAGE_CHARS` characters of rendered text; earlier ones are added a page at a time.

Qt-free: the window (``desktop/ui/chat``) applies these; the figures live here once.
"""

from __future__ import annotations

from dataclasses import dataclass

FOLD_CHARS = 8_000  # a longer message shows this much, then "Show all"
FOLD_LINES = 200  # …or this many lines (a pasted log is many short lines)
EXPAND_CHARS = 100_000  # "Show all" in the transcript up to this; longer: the message viewer
PAGE_MESSAGES = 40  # messages rendered when a conversation opens, and per "Show earlier"
PAGE_CHARS = 20_000  # …and about this many characters of them (at least one message)
LONGEST_QUESTION = 500_000  # what the composer holds: ~125,000 tokens, beyond any context we run
_CUT_SEARCH = 2_000  # how far back from the limit a line end (or a space) is looked for


@dataclass(frozen=True)
class Fold:
    """What the transcript shows of a message: ``shown``, and how many characters follow."""

    shown: str
    hidden: int

    @property
    def folded(self) -> bool:
        return self.hidden > 0


def fold(text: str, chars: int = FOLD_CHARS, lines: int = FOLD_LINES) -> Fold:
    """The beginning of ``text``: at most ``chars`` characters and ``lines`` lines, cut at a
    line end (or else a space) when there is one near the limit. Costs what the beginning
    costs, whatever the length of ``text``."""
    cut = min(len(text), chars)
    end = -1
    for _ in range(lines):
        end = text.find("\n", end + 1, cut)
        if end < 0:
            break
    else:
        cut = end  # the limit of lines comes first
    if cut >= len(text):
        return Fold(text, 0)
    line_end = text.rfind("\n", max(cut - _CUT_SEARCH, 1), cut + 1)
    if line_end > 0:
        cut = line_end
    else:
        space = text.rfind(" ", max(cut - _CUT_SEARCH, 1), cut + 1)
        cut = space if space > 0 else cut
    return Fold(text[:cut].rstrip(), len(text) - cut)


def page_before(sizes: list[int], end: int) -> int:
    """Where a page ending (exclusive) at message ``end`` starts: at most
    :data:`PAGE_MESSAGES` messages and about :data:`PAGE_CHARS` characters (each message
    counted as far as it is shown folded), and at least one message. ``sizes``: the length of
    each message of the conversation."""
    start, spent = end, 0
    while start > 0 and end - start < PAGE_MESSAGES and (spent < PAGE_CHARS or start == end):
        start -= 1
        spent += min(sizes[start], FOLD_CHARS)
    return start


def page_after(sizes: list[int], start: int) -> int:
    """Where a page starting at message ``start`` ends (exclusive); see :func:`page_before`."""
    end, spent = start, 0
    while end < len(sizes) and end - start < PAGE_MESSAGES and (spent < PAGE_CHARS or end == start):
        spent += min(sizes[end], FOLD_CHARS)
        end += 1
    return end


def size_text(characters: int) -> str:
    """``52,428,800 characters`` — how long a message is, for the words under it."""
    return f"{characters:,} character{'s' if characters != 1 else ''}"
