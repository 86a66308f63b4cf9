"""The ``huacaya`` command: the window by default, the terminal chat, the model library, the
local API server."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from conversion.errors import HuacayaError
from desktop import __version__
from desktop.cli import chat, chats, docs, eval, models, serve
from desktop.core import logs
from desktop.core.hub.download import human_bytes
from desktop.core.jobs.leftovers import remove_leftovers

log = logging.getLogger(__name__)

# The subcommands: each module has ``NAME``, ``add_parser(commands)`` and ``run(args) -> int``.
COMMANDS = (chat, chats, models, serve, docs, eval)
COMMANDS_BY_NAME = {command.NAME: command for command in COMMANDS}


def display_available() -> bool:
    """Whether a window can be shown (always on macOS and Windows)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huacaya",
        description="A private, offline assistant. With no command, opens the window (or the "
        "terminal chat where there is no display).",
    )
    parser.add_argument("--version", action="version", version=f"huacaya {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load the starter model, generate a few tokens, open and close the "
        "window offscreen, and exit 0 if all worked",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the window (the default)")
    gui.add_argument("--model", "-m", default="", help="model to load first")

    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _terminal_instead(reason: str, model: str) -> int:
    print(f"huacaya: {reason}.\nhuacaya: starting the terminal chat instead.", file=sys.stderr)
    args = build_parser().parse_args(["chat", *(["--model", model] if model else [])])
    return chat.run(args)


def run_gui(model: str = "") -> int:
    if not display_available():
        return _terminal_instead("no display found (the window needs a desktop session)", model)
    try:
        from desktop.ui.app import platform_problem, run_app
    except ImportError as exc:
        return _terminal_instead(f"the window toolkit (PySide6) cannot load: {exc}", model)
    problem = platform_problem()
    if problem:
        return _terminal_instead(problem, model)
    return run_app(model)


def run_self_test() -> int:
    from desktop.cli.self_test import run_self_test as self_test

    return self_test()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup()
    try:
        freed = remove_leftovers()
        if freed and args.command == "models":
            print(
                f"huacaya: removed {human_bytes(freed)} left behind by interrupted runs.",
                file=sys.stderr,
            )
        if args.self_test:
            return run_self_test()
        if args.command in COMMANDS_BY_NAME:
            return COMMANDS_BY_NAME[args.command].run(args)
        return run_gui(getattr(args, "model", ""))
    except HuacayaError as exc:
        log.info("command failed: %s", exc, exc_info=True)
        print(f"huacaya: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing left to say
        return 0
