"""Versions of a turn in the conversation store: the messages of a chat form a tree.

Regenerate makes a new version of an answer, Edit a new version of a question (with its new
answer); the earlier version stays, with everything that followed it, as ChatGPT keeps a
branch. Each message follows its ``parent_id`` (NULL: the chat's first message); the versions
of a turn are the messages with the same parent, numbered in the order they were made (by id).
One of them is ``chosen`` (each branch remembers its own choice, shown or not), and the chat
shows the path of chosen messages from the first one: ``shown`` marks it, so reading a chat,
searching it and appending to it cost what they did before versions.

These functions run inside the store's write transactions (``History`` calls them); each
leaves the tree with one chosen version per turn and ``shown`` in step with the choices.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from conversion.errors import HistoryError
from desktop.core.history.search import storable

Place = tuple[int | None, int]  # a message's parent (None: the first turn) and its position


class Turn(Protocol):
    """A message to store (the store's ``NewMessage``), with its turn's other versions."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def stats(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> float | None: ...
    @property
    def version(self) -> int: ...
    @property
    def other_versions(self) -> Sequence[Sequence[Turn]]: ...


def turns_with_versions(
    db: sqlite3.Connection, conversation_id: int
) -> dict[tuple[int | None, int], list[int]]:
    """The turns of a chat that have more than one version: (parent, position) → the ids of
    their versions, in order."""
    rows = db.execute(
        "SELECT parent_id, position, group_concat(id) FROM messages WHERE conversation_id = ? "
        "GROUP BY parent_id, position HAVING COUNT(*) > 1",
        (conversation_id,),
    ).fetchall()
    return {(row[0], int(row[1])): sorted(int(i) for i in row[2].split(",")) for row in rows}


def refresh_shown(db: sqlite3.Connection, conversation_id: int) -> None:
    """Mark the shown path again: the chosen message at each turn, from the first one."""
    db.execute(
        "UPDATE messages SET shown = 0 WHERE conversation_id = ? AND shown = 1",
        (conversation_id,),
    )
    db.execute(
        """
        WITH RECURSIVE path(id) AS (
            SELECT id FROM messages
                WHERE conversation_id = ? AND parent_id IS NULL AND chosen = 1
            UNION ALL
            SELECT m.id FROM messages m JOIN path ON m.parent_id = path.id WHERE m.chosen = 1
        )
        UPDATE messages SET shown = 1 WHERE id IN (SELECT id FROM path)
        """,
        (conversation_id,),
    )


def insert(
    db: sqlite3.Connection,
    conversation_id: int,
    message: Turn,
    now: float,
    place: Place,
    *,
    chosen: bool = True,
    shown: bool = False,
) -> int:
    """One message at ``place``; ``shown``: it goes on the shown path at once (appended at
    its end), else the caller marks the path again (:func:`refresh_shown`)."""
    parent, position = place
    cursor = db.execute(
        "INSERT INTO messages (conversation_id, parent_id, position, role, content, "
        "created_at, model, stats, chosen, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conversation_id,
            parent,
            position,
            message.role,
            storable(message.content),
            message.created_at if message.created_at is not None else now,
            storable(message.model),
            json.dumps(message.stats),
            int(chosen),
            int(shown),
        ),
    )
    return int(cursor.lastrowid or 0)


def insert_turns(
    db: sqlite3.Connection,
    conversation_id: int,
    place: Place,
    turns: Sequence[Turn],
    now: float,
    shown: bool = False,
) -> list[int]:
    """``turns`` one after the other from ``place``, each turn with its other versions (an
    import's) in their order, the given one chosen; returns the ids of ``turns``. ``shown``:
    they are the shown path (a whole chat imported), else the caller marks it afterwards."""
    ids = []
    parent, position = place
    for message in turns:
        others = list(message.other_versions)
        number = min(max(message.version, 1), len(others) + 1)
        chosen = 0
        for slot in range(1, len(others) + 2):
            if slot == number:
                chosen = insert(db, conversation_id, message, now, (parent, position), shown=shown)
                continue
            first, *rest = others.pop(0)
            other = insert(db, conversation_id, first, now, (parent, position), chosen=False)
            insert_turns(db, conversation_id, (other, position + 1), rest, now)
        ids.append(chosen)
        parent, position = chosen, position + 1
    return ids


def shown_end(db: sqlite3.Connection, conversation_id: int) -> Place:
    """The last shown message (None in an empty chat) and the position after it."""
    row = db.execute(
        "SELECT id, position FROM messages WHERE conversation_id = ? AND shown = 1 "
        "ORDER BY position DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return (None, 0) if row is None else (int(row[0]), int(row[1]) + 1)


def _place(db: sqlite3.Connection, conversation_id: int, message_id: int) -> Place:
    row = db.execute(
        "SELECT parent_id, position FROM messages WHERE id = ? AND conversation_id = ?",
        (message_id, conversation_id),
    ).fetchone()
    if row is None:
        raise HistoryError(f"Message {message_id} is not in conversation {conversation_id}.")
    return row[0], int(row[1])


def siblings(db: sqlite3.Connection, conversation_id: int, message_id: int) -> list[int]:
    """The versions of message ``message_id``'s turn (itself included), in order."""
    parent, position = _place(db, conversation_id, message_id)
    rows = db.execute(
        "SELECT id FROM messages WHERE conversation_id = ? AND position = ? "
        "AND parent_id IS ? ORDER BY id",
        (conversation_id, position, parent),
    ).fetchall()
    return [int(r[0]) for r in rows]


def version_place(db: sqlite3.Connection, conversation_id: int, message_id: int) -> Place:
    """Where a new version of message ``message_id`` goes: its parent and its position."""
    return _place(db, conversation_id, message_id)


def choose(db: sqlite3.Connection, conversation_id: int, message_id: int) -> None:
    """Show version ``message_id`` of its turn (and what followed it)."""
    parent, position = _place(db, conversation_id, message_id)
    db.execute(
        "UPDATE messages SET chosen = (id = ?) WHERE conversation_id = ? AND position = ? "
        "AND parent_id IS ?",
        (message_id, conversation_id, position, parent),
    )
    refresh_shown(db, conversation_id)


def choose_number(
    db: sqlite3.Connection, conversation_id: int, message_id: int, number: int
) -> None:
    """Show version ``number`` (from 1) of message ``message_id``'s turn."""
    versions = siblings(db, conversation_id, message_id)
    if not 1 <= number <= len(versions):
        raise HistoryError(f"This turn has {len(versions)} versions, not a version {number}.")
    choose(db, conversation_id, versions[number - 1])


def drop(
    db: sqlite3.Connection, conversation_id: int, message_id: int, then: int | None = None
) -> None:
    """Delete version ``message_id`` and everything that followed it (its hidden versions
    too). If it was shown, version ``then`` of the turn is shown instead (else the one made
    before it, else the next)."""
    versions = siblings(db, conversation_id, message_id)
    chosen = db.execute("SELECT chosen FROM messages WHERE id = ?", (message_id,)).fetchone()[0]
    # A recursive delete here, not ON DELETE CASCADE: a cascade is a trigger per level, and
    # SQLite stops at 1,000 levels (a chat of 1,000 turns).
    db.execute(
        """
        WITH RECURSIVE branch(id) AS (
            SELECT ? UNION ALL SELECT m.id FROM messages m JOIN branch ON m.parent_id = branch.id
        )
        DELETE FROM messages WHERE id IN (SELECT id FROM branch)
        """,
        (message_id,),
    )
    others = [v for v in versions if v != message_id]
    if chosen and others:
        if then not in others:
            index = versions.index(message_id)
            then = others[max(index - 1, 0)]
        assert then is not None
        choose(db, conversation_id, then)
    else:
        refresh_shown(db, conversation_id)
