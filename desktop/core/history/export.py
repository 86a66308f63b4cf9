"""Conversations to and from files: Markdown to read, JSON to import again.

A chat's JSON lists the messages it shows (``messages``), so a reader that knows nothing of
versions reads the chat as it was shown. A turn with several versions (Regenerate, Edit) says
which one is shown (``version``, from 1) and carries the others in ``other_versions``, in their
order: each a list of messages, that version first, then what followed it (whose turns may
have versions of their own). Markdown shows the chosen versions, each marked "version 2 of 3".
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from conversion.errors import HistoryError, NotARegularFileError
from conversion.input_files import read_text
from desktop.core.history.export_schema import CheckedMessage, validated_export
from desktop.core.history.store import Conversation, History, NewMessage, StoredMessage

EXPORT_FORMAT = "huacaya-conversation"
EXPORT_VERSION = 1
MAX_EXPORT_BYTES = 512 << 20


def _message_record(message: StoredMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
        "model": message.model,
        "stats": message.stats,
    }


def _turns(
    children: dict[int | None, list[StoredMessage]], versions: list[StoredMessage]
) -> list[dict[str, Any]]:
    """The chosen version of each turn from ``versions`` (a turn's versions) on, each with its
    turn's other versions and what followed them."""
    records = []
    while versions:
        chosen = next((m for m in versions if m.chosen), versions[-1])
        record = _message_record(chosen)
        if len(versions) > 1:
            record["version"] = versions.index(chosen) + 1
            record["other_versions"] = [
                [_message_record(m), *_turns(children, children.get(m.id, []))]
                for m in versions
                if m is not chosen
            ]
        records.append(record)
        versions = children.get(chosen.id, [])
    return records


def conversation_messages(history: History, conversation_id: int) -> list[dict[str, Any]]:
    """A chat's messages as its JSON export lists them: shown, with every other version."""
    children: dict[int | None, list[StoredMessage]] = {}
    for message in history.all_messages(conversation_id):  # in the order made
        children.setdefault(message.parent_id, []).append(message)
    return _turns(children, children.get(None, []))


def export_json(history: History, conversation_id: int) -> dict[str, Any]:
    conversation = history.get(conversation_id)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "settings": conversation.settings,
        "created_at": conversation.created_at,
        "messages": conversation_messages(history, conversation_id),
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
        if message.versions > 1:
            who += f" (version {message.version} of {message.versions})"
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


def import_json(history: History, data: Any) -> Conversation:
    """A conversation from :meth:`export_json` output. Every field is checked (type and range)
    before anything is written; anything else is refused with one line naming the field."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise HistoryError(
            "This file is not a Huacaya conversation export.",
            "Choose a .json file saved with Export → JSON.",
        )
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > EXPORT_VERSION:
        raise HistoryError("This export comes from a newer Huacaya.", "Update to import it.")
    export = validated_export(data)
    now = time.time()
    try:
        return history.add_conversation(
            title=export.title,
            model=export.model,
            system_prompt=export.system_prompt,
            settings=export.settings,
            created_at=export.created_at if export.created_at is not None else now,
            messages=[_new_message(m) for m in export.messages],
        )
    except sqlite3.Error as exc:
        raise HistoryError(f"The conversation could not be saved: {exc}.") from exc


def _new_message(message: CheckedMessage) -> NewMessage:
    return NewMessage(
        message.role,
        message.content,
        message.model,
        message.stats,
        message.created_at,
        message.version,
        tuple(tuple(_new_message(m) for m in other) for other in message.other_versions),
    )
