"""What the conversation store keeps and is given: conversations and messages as read back,
and the new ones an import or a question adds (plain data; ``store.py`` reads and writes them)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class StoredMessage:
    id: int
    conversation_id: int
    position: int
    role: str
    content: str
    created_at: float
    model: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    parent_id: int | None = None  # the message it follows (None: the first)
    chosen: bool = True  # the version shown of its turn
    version: int = 1  # its number among its turn's versions (versions.py), from 1
    versions: int = 1  # how many versions its turn has


@dataclass(frozen=True)
class NewMessage:
    """A message to store: the history gives it its id, position and time. An import's may
    carry its turn's other versions, each a list of messages (that version, then what
    followed it), and its own number among them (``version``)."""

    role: str
    content: str
    model: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None  # now, unless it is older (an import)
    version: int = 1
    other_versions: tuple[tuple[NewMessage, ...], ...] = ()


@dataclass(frozen=True)
class NewConversation:
    """A whole conversation to store (an import)."""

    title: str
    model: str = ""
    system_prompt: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None  # now, unless it is older
    updated_at: float | None = None  # its last activity: now, unless it is older
    messages: list[NewMessage] = field(default_factory=list)


@dataclass(frozen=True)
class Added:
    """A conversation of an import: ``new``, or the copy that was already here."""

    id: int
    new: bool


@dataclass
class Conversation:
    id: int
    title: str
    model: str
    system_prompt: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float
    messages: list[StoredMessage] = field(default_factory=list)


def json_object(text: str | None, what: str, row_id: int) -> dict[str, Any]:
    """A stored JSON object; damaged or ill-typed data (an older version's import) reads as
    empty rather than breaking the window that shows it."""
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        log.warning("ignoring the damaged %s of row %s: %.80r", what, row_id, text)
        return {}
    return value
