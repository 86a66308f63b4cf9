"""Conversations to and from files: Markdown to read, JSON to import again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conversion.errors import HistoryError, NotARegularFileError
from conversion.input_files import read_text
from desktop.core.history.export_schema import CheckedExport, validated_export
from desktop.core.history.store import Conversation, History, NewConversation, NewMessage

EXPORT_FORMAT = "huacaya-conversation"
EXPORT_VERSION = 1
MAX_EXPORT_BYTES = 512 << 20


def export_json(history: History, conversation_id: int) -> dict[str, Any]:
    conversation = history.get(conversation_id, with_messages=True)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "settings": conversation.settings,
        "created_at": conversation.created_at,
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at,
                "model": m.model,
                "stats": m.stats,
            }
            for m in conversation.messages
        ],
    }


def export_markdown(history: History, conversation_id: int) -> str:
    conversation = history.get(conversation_id, with_messages=True)
    parts = [f"# {conversation.title or 'Conversation'}\n"]
    if conversation.model:
        parts.append(f"*Model: {conversation.model}*\n")
    if conversation.system_prompt:
        parts.append(f"> **System:** {conversation.system_prompt}\n")
    for message in conversation.messages:
        who = "You" if message.role == "user" else message.model or "Assistant"
        parts.append(f"## {who}\n\n{message.content}\n")
    return "\n".join(parts)


def read_export(path: Path) -> Any:
    """The JSON of an export file; HistoryError (one line) for anything that is not JSON."""
    try:
        if path.stat().st_size > MAX_EXPORT_BYTES:
            raise HistoryError(
                f"“{path.name}” is larger than {MAX_EXPORT_BYTES >> 20} MB, too large for a "
                "conversation export.",
                "Choose a file saved with Export as JSON.",
            )
        # a regular file only (a named pipe would block the window), never past its size
        return json.loads(read_text(path, MAX_EXPORT_BYTES))
    except NotARegularFileError as exc:
        raise HistoryError(exc.message, "Choose a file saved with Export as JSON.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise HistoryError(
            f"“{path.name}” cannot be read as JSON: {reason}.",
            "Choose a file saved with Export as JSON.",
        ) from exc


def checked_conversation(data: Any) -> CheckedExport:
    """One conversation of :func:`export_json` output, checked in full (type and range of every
    field) before anything is written; anything else is refused with one line naming the
    field."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise HistoryError(
            "This file is not a Huacaya conversation export.",
            "Choose a .json file saved with Export → JSON.",
        )
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > EXPORT_VERSION:
        raise HistoryError("This export comes from a newer Huacaya.", "Update to import it.")
    return validated_export(data)


def new_conversation(export: CheckedExport) -> NewConversation:
    """What a checked export stores: its times as they were (its place in the sidebar too)."""
    times = [export.created_at, *(m.created_at for m in export.messages)]
    known = [t for t in times if t is not None]
    return NewConversation(
        title=export.title,
        model=export.model,
        system_prompt=export.system_prompt,
        settings=export.settings,
        created_at=export.created_at,
        updated_at=max(known) if known else None,
        messages=[
            NewMessage(m.role, m.content, m.model, m.stats, m.created_at) for m in export.messages
        ],
    )


def import_json(history: History, data: Any) -> Conversation:
    """A new conversation from :func:`export_json` output (see :func:`checked_conversation`)."""
    new = new_conversation(checked_conversation(data))
    try:
        (added,) = history.add_conversations([new])
    except sqlite3.Error as exc:
        raise HistoryError(f"The conversation could not be saved: {exc}.") from exc
    return history.get(added.id, with_messages=True)
