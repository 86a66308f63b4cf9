"""Every chat at once: out to one JSON file or a folder of Markdown files, and back in.

The JSON file is an envelope (``huacaya-conversations``, version 1) around the single-chat
export of each chat, exactly as :func:`export.export_json` writes it, so whatever that format
carries travels here too; an import accepts this file or a single-chat export. Chats deleted
but still undoable are not exported. Both exports are written under a temporary name and
renamed when whole, so a cancel or a crash leaves nothing half-written.

An import is checked in full before anything is written, and written in one transaction: one bad
chat refuses the whole file in one line naming the chat and the field, and nothing is imported.
Chats already here (``duplicates.py``) are not added again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conversion.errors import HistoryError
from conversion.output import atomic_folder, atomic_text_file
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress, sub_range
from desktop import __version__
from desktop.core.history.export import (
    checked_conversation,
    export_json,
    export_markdown,
    new_conversation,
    read_export,
)
from desktop.core.history.export_schema import CheckedExport
from desktop.core.history.file_names import unique_names
from desktop.core.history.store import Conversation, History, title_from
from desktop.core.sqlite_store import read_snapshot

ALL_FORMAT = "huacaya-conversations"
ALL_VERSION = 1
INDEX_NAME = "index.md"
_HINT = "Nothing was imported. Export the chats again from Huacaya, or fix that chat."


def chats_count(count: int) -> str:
    """``1 chat``, ``2,000 chats``."""
    return f"{count:,} chat{'' if count == 1 else 's'}"


def _chats(history: History) -> list[Conversation]:
    """Every chat that is not deleted, oldest activity first: imported in this order, they
    come back in the sidebar's order."""
    return list(reversed(history.list(limit=-1)))


def export_all_json(
    history: History,
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> int:
    """Every chat into one JSON file at ``path`` (replaced whole); returns how many."""
    with read_snapshot(history.db), atomic_text_file(path) as out:
        chats = _chats(history)
        head = {
            "format": ALL_FORMAT,
            "version": ALL_VERSION,
            "app_version": __version__,
            "exported_at": time.time(),
            "count": len(chats),
        }
        out.write(json.dumps(head, indent=2, ensure_ascii=False)[:-2])
        out.write(',\n  "conversations": [')
        for number, chat in enumerate(chats):
            cancel.check()
            progress(number / max(len(chats), 1), f"Chat {number + 1:,} of {len(chats):,}")
            # one chat per line: a line number in a message points at one chat
            out.write("\n" if number == 0 else ",\n")
            out.write(json.dumps(export_json(history, chat.id), ensure_ascii=False))
        out.write("\n  ]\n}\n")
        cancel.check()
    return len(chats)


def folder_has_files(folder: Path) -> bool:
    """Whether exporting into ``folder`` would replace or mix with what is there (ask first)."""
    return folder.is_dir() and any(folder.iterdir())


def export_all_markdown(
    history: History,
    folder: Path,
    *,
    replace_files: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> int:
    """Every chat as a Markdown file in ``folder``, with ``index.md`` listing them, newest
    first. A folder that has files is refused unless ``replace_files`` (then files of the same
    names are replaced and the others left). Returns how many chats."""
    if folder.exists() and not folder.is_dir():
        raise HistoryError(f"“{folder}” is a file, not a folder.", "Choose a folder name.")
    if folder_has_files(folder) and not replace_files:
        raise HistoryError(
            f"The folder “{folder}” is not empty.", "Choose an empty or a new folder."
        )
    with read_snapshot(history.db), atomic_folder(folder, replace_files) as partial:
        chats = list(reversed(_chats(history)))  # newest first, as the sidebar lists them
        names = unique_names((c.title for c in chats), ".md", taken=[INDEX_NAME])
        for number, (chat, name) in enumerate(zip(chats, names, strict=True)):
            cancel.check()
            progress(number / max(len(chats), 1), f"Chat {number + 1:,} of {len(chats):,}")
            (partial / name).write_text(export_markdown(history, chat.id), encoding="utf-8")
        (partial / INDEX_NAME).write_text(_index(history, chats, names), encoding="utf-8")
        cancel.check()
    return len(chats)


def _index(history: History, chats: list[Conversation], names: list[str]) -> str:
    when = datetime.now().strftime("%d %b %Y %H:%M")
    lines = ["# Huacaya chats", "", f"{chats_count(len(chats))}, exported {when}.", ""]
    for chat, name in zip(chats, names, strict=True):
        title = _escaped(title_from(chat.title, 200) or "Conversation")
        count = history.db.execute(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND shown = 1", (chat.id,)
        ).fetchone()[0]
        day = datetime.fromtimestamp(chat.updated_at).strftime("%d %b %Y")
        messages = f"{count:,} message{'' if count == 1 else 's'}"
        lines.append(f"- [{title}]({quote(name)}) — {day}, {messages}")
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    """Text shown as it is in Markdown (no emphasis, links or code from a title)."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>#|!" else c for c in text)


# -- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    imported: list[int]  # the new chats' ids, in the file's order
    already_here: list[int]  # the chats the file holds that were here already (not added again)
    title: str = ""  # the chat's, when the file holds one

    @property
    def chats(self) -> list[int]:
        """Every chat of the file, as it is here now."""
        return self.imported + self.already_here

    @property
    def summary(self) -> str:
        if len(self.chats) == 1 and self.title:
            name = title_from(self.title, 60)
            return f"Imported “{name}”." if self.imported else f"“{name}” is already here."
        done = f"{chats_count(len(self.imported))} imported"
        here = len(self.already_here)
        return f"{done}, {here:,} already here." if here else f"{done}."


def checked_chats(data: Any) -> list[CheckedExport]:
    """The chats of an all-chats export or of a single-chat one, each checked in full; one
    bad chat refuses the file (HistoryError naming the chat and the field)."""
    if not (isinstance(data, dict) and data.get("format") == ALL_FORMAT):
        return [checked_conversation(data)]
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HistoryError("The export's “version” is not valid: it should be 1.", _HINT)
    if version > ALL_VERSION:
        raise HistoryError("This export comes from a newer Huacaya.", "Update to import it.")
    chats = data.get("conversations")
    if not isinstance(chats, list):
        raise HistoryError("The export's “conversations” is not valid: it should be a list.", _HINT)
    checked = []
    for number, chat in enumerate(chats, 1):
        try:
            checked.append(checked_conversation(chat))
        except HistoryError as exc:
            title = chat.get("title") if isinstance(chat, dict) else None
            named = f" (“{title_from(title, 40)}”)" if isinstance(title, str) and title else ""
            raise HistoryError(
                f"Chat {number:,} of {len(chats):,}{named}: {exc.message}", _HINT
            ) from None
    return checked


def import_chats(
    history: History,
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ImportReport:
    """The chats of the export at ``path`` (all-chats or single), all or none, skipping the
    ones already here."""
    progress(0.0, f"Reading “{path.name}”")
    data = read_export(path)
    cancel.check()
    progress(0.2, "Checking every chat")
    chats = [new_conversation(c) for c in checked_chats(data)]
    del data
    cancel.check()
    try:
        added = history.add_conversations(
            chats, skip_present=True, progress=sub_range(progress, 0.3, 1.0), cancel=cancel
        )
    except sqlite3.Error as exc:
        raise HistoryError(f"The chats could not be saved: {exc}.", _HINT) from exc
    title = history.get(added[0].id).title if len(added) == 1 else ""
    return ImportReport([a.id for a in added if a.new], [a.id for a in added if not a.new], title)
