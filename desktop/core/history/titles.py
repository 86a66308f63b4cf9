"""How a chat gets its title when nobody names it: from its first question.

An automatic title is the start of the first question on one line, cut at a word where it is
long, and stored without an ellipsis (where a view has less room it shortens the title itself).
It follows the first question: editing that question retitles the chat, and undoing the edit
titles it back, unless the person renamed the chat (a title they chose is never replaced).
"""

from __future__ import annotations

TITLE_LENGTH = 60  # characters of an automatic title
_TRIM = " ,;:-–—"  # what a cut title does not end with


def automatic_title(question: str) -> str:
    """The title a chat whose first question is ``question`` gets by itself."""
    line = _one_line(question)
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH + 1]
    space = cut.rfind(" ")
    if space >= TITLE_LENGTH // 2:  # end at a whole word where one ends late enough
        cut = cut[:space]
    return cut[:TITLE_LENGTH].rstrip(_TRIM)


def _one_line(text: str) -> str:
    """``text`` on one line (runs of white space as one space), as far as a title needs: this
    costs what a title's length does, not what a pasted megabyte would."""
    size = 4 * TITLE_LENGTH + 64
    while True:
        line = " ".join(text[:size].split())
        if len(line) > TITLE_LENGTH or size >= len(text):
            return line
        size *= 4


def legacy_title(question: str) -> str:
    """What earlier versions stored: cut at 59 characters, with "…" appended."""
    line = _one_line(question)
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def is_automatic(title: str, question: str) -> bool:
    """Whether ``title`` is what this or an earlier version made of ``question`` (and not a
    name the person gave the chat)."""
    return title in (automatic_title(question), legacy_title(question))
