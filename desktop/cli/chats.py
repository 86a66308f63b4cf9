"""``huacaya chats …``: the saved chats from the terminal — list them, export every one (one JSON
file, or a folder of Markdown files with ``--markdown``), and import an export back (all chats or
one). What is written, checked and skipped is ``core/history/all_chats.py``'s; Ctrl+C stops an
export or an import and leaves nothing half-done."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from conversion.cli import printable
from conversion.errors import Cancelled
from conversion.progress import ProgressBar, cancel_on_interrupt
from desktop.core.history import all_chats
from desktop.core.history.store import History, title_from

NAME = "chats"


def add_parser(commands: argparse._SubParsersAction) -> None:
    chats = commands.add_parser("chats", help="your saved chats: list, export all, import")
    actions = chats.add_subparsers(dest="chats_command", metavar="ACTION")
    actions.add_parser("list", help="every saved chat, newest first")
    export = actions.add_parser(
        "export",
        help="every chat into one JSON file (import it again with `huacaya chats import`), or "
        "with --markdown into a folder of Markdown files, one per chat",
    )
    export.add_argument("path", type=Path, metavar="PATH")
    export.add_argument(
        "--all", action="store_true", help="every chat (the default; chats deleted are left out)"
    )
    export.add_argument("--markdown", action="store_true", help="a folder of Markdown files")
    export.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file, or write into a folder that has files (files of the "
        "same names are replaced, others left)",
    )
    imports = actions.add_parser(
        "import", help="the chats of an export (all chats or one); chats already here are skipped"
    )
    imports.add_argument("path", type=Path, metavar="FILE")


def run(args: argparse.Namespace) -> int:
    command = args.chats_command
    if command is None:
        print("huacaya chats: say what to do: list, export or import (see --help)", file=sys.stderr)
        return 2
    history = History()
    try:
        if command == "list":
            return _list(history)
        if command == "export":
            return _export(history, args.path, args.markdown, args.force)
        return _import(history, args.path)
    finally:
        history.close()


def _list(history: History) -> int:
    for chat in history.list(limit=-1):
        day = datetime.fromtimestamp(chat.updated_at).strftime("%Y-%m-%d %H:%M")
        title = printable(title_from(chat.title, 60) or "New chat")
        print(f"{chat.id:>6}  {day}  {title}")
    return 0


def _export(history: History, path: Path, markdown: bool, force: bool) -> int:
    if not markdown and path.exists() and not force:
        print(f"huacaya: “{path}” already exists; pass --force to replace it.", file=sys.stderr)
        return 1
    bar = ProgressBar()
    with cancel_on_interrupt() as cancel:
        try:
            if markdown:
                count = all_chats.export_all_markdown(
                    history, path, replace_files=force, progress=bar, cancel=cancel
                )
            else:
                count = all_chats.export_all_json(history, path, bar, cancel)
        except Cancelled:
            bar.finish()
            print("huacaya: export stopped; nothing was written.", file=sys.stderr)
            return 130
    bar.finish()
    print(f"Exported {all_chats.chats_count(count)} to {path}.")
    return 0


def _import(history: History, path: Path) -> int:
    bar = ProgressBar()
    with cancel_on_interrupt() as cancel:
        try:
            report = all_chats.import_chats(history, path, bar, cancel)
        except Cancelled:
            bar.finish()
            print("huacaya: import stopped; nothing was imported.", file=sys.stderr)
            return 130
    bar.finish()
    print(report.summary)
    return 0
