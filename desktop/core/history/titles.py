"""How a chat gets its title when nobody names it: from its first question.

An automatic title is the start of the first question on one line, cut at a word where it is
long, and stored without an ellipsis (where a view has less room it shortens the title itself).
It follows the first question shown: editing that question retitles the chat, and undoing the
edit or showing another version of the question titles it again, unless the person renamed the
chat (a title they chose is never replaced).
"""

from __future__ import annotations

import sqlite3

from desktop.core.history.search import storable

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


# -- in the conversation store (inside its write transactions) ---------------------------------


def first_question(db: sqlite3.Connection, conversation_id: int) -> str | None:
    """The first question the chat shows (None: it has none)."""
    row = db.execute(
        "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user' "
        "AND shown = 1 ORDER BY position LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return row[0] if row is not None else None


def title_untitled(db: sqlite3.Connection, conversation_id: int) -> None:
    """A chat without a title takes one from its first question."""
    question = first_question(db, conversation_id)
    if question is not None:
        db.execute(
            "UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
            (storable(automatic_title(question)), conversation_id),
        )


def retitle(db: sqlite3.Connection, conversation_id: int, old_question: str | None) -> None:
    """The first question shown changed (an edit, undoing one, another version shown): an
    automatic title follows it; a title the person gave stays."""
    question = first_question(db, conversation_id)
    if question is None or old_question is None or question == old_question:
        return
    (title,) = db.execute(
        "SELECT title FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if is_automatic(title, old_question):
        db.execute(
            "UPDATE conversations SET title = ? WHERE id = ?",
            (storable(automatic_title(question)), conversation_id),
        )
