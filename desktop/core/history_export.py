"""Conversations to and from files: Markdown to read, JSON to import again."""

from __future__ import annotations

import time
from typing import Any

from desktop.core.errors import HistoryError
from desktop.core.history import Conversation, History, NewMessage

EXPORT_FORMAT = "huacaya-conversation"
EXPORT_VERSION = 1


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


def import_json(history: History, data: Any) -> Conversation:
    """A conversation from :meth:`export_json` output; refuses anything else clearly."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise HistoryError(
            "This file is not a Huacaya conversation export.",
            "Choose a .json file saved with Export → JSON.",
        )
    if int(data.get("version", 0)) > EXPORT_VERSION:
        raise HistoryError("This export comes from a newer Huacaya.", "Update to import it.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not all(
        isinstance(m, dict)
        and m.get("role") in ("system", "user", "assistant")
        and isinstance(m.get("content"), str)
        for m in messages
    ):
        raise HistoryError("The export's messages are damaged.", "Export it again.")
    now = time.time()
    return history.add_conversation(
        title=str(data.get("title", "")),
        model=str(data.get("model", "")),
        system_prompt=str(data.get("system_prompt", "")),
        settings=data.get("settings") or {},
        created_at=float(data.get("created_at", now)),
        messages=[
            NewMessage(
                m["role"],
                m["content"],
                str(m.get("model", "")),
                m.get("stats") or {},
                float(m.get("created_at", now)),
            )
            for m in messages
        ],
    )
