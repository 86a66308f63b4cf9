"""The ``huacaya`` command: the window by default, the terminal chat, the model library, the
local API server."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from conversion.cli import text_argument
from desktop import __version__, cli_docs, cli_models, cli_serve
from desktop.core import logs
from desktop.core import settings as settings_store
from desktop.core.errors import HuacayaError
from desktop.core.hub_download import human_bytes
from desktop.core.leftovers import remove_leftovers
from desktop.core.library import library_for, resolve_model
from desktop.core.prompts import FORMAT_CHOICES

log = logging.getLogger(__name__)


def display_available() -> bool:
    """Whether a window can be shown (always on macOS and Windows)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _add_chat_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        "-m",
        default="",
        help="library name or id, or a path to a .gguf file (default: your "
        "default model, else the starter model)",
    )
    parser.add_argument("--ctx", type=_positive, help="context length in tokens")
    parser.add_argument("--temperature", "-t", type=float, help="0 answers greedily")
    parser.add_argument("--max-tokens", "-n", type=_positive, help="longest answer in tokens")
    parser.add_argument("--seed", type=int, help="fixed seed for repeatable answers")
    parser.add_argument("--system", default="", type=text_argument, help="system prompt")
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMAT_CHOICES,
        help="prompt format (auto: the model's chat template, else Alpaca)",
    )
    parser.add_argument("--threads", type=_positive, help="CPU threads (default: physical cores)")
    parser.add_argument("--stats", action="store_true", help="print speed after each answer")
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="keep this chat out of the history (by default it is saved like the window's)",
    )
    parser.add_argument(
        "--docs",
        action="append",
        default=[],
        type=text_argument,
        metavar="COLLECTION",
        help="answer from this document collection (repeat for several); the passages used "
        "are listed after each answer",
    )
    parser.add_argument(
        "--show-passages",
        action="store_true",
        help="with --docs: print the exact passages given to the model",
    )


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

    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument(
        "question", nargs="?", type=text_argument, help="answer this one question and exit"
    )
    _add_chat_options(chat)

    cli_models.add_parser(commands)
    cli_serve.add_parser(commands)
    cli_docs.add_parser(commands)
    return parser


def run_chat(args: argparse.Namespace) -> int:
    from desktop.core.engine import ChatEngine
    from desktop.core.history import History
    from desktop.core.session import ChatSession
    from desktop.terminal import TerminalChat

    settings = settings_store.load()
    generation = settings.generation.overridden(
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
    )
    library = library_for(settings.models_folder)
    path = resolve_model(args.model, library, preferred=settings.default_model)
    engine = ChatEngine(
        path,
        context_length=args.ctx or settings.context_length,
        threads=args.threads or settings.threads,
        gpu_layers=settings.gpu_layers,
        prompt_format=args.format,
    )
    info = engine.load()
    if info.notice:
        print(f"Note: {info.notice}", file=sys.stderr)
    history = None if args.no_save else History()
    documents = None
    try:
        session = ChatSession(history, lambda model: generation)
        entry = library.entry_at(path)
        session.set_model(entry.id if entry else "", entry.name if entry else info.name)
        session.configure(system_prompt=args.system, prompt_format=args.format)
        if args.docs:
            documents = cli_docs.documents_for_chat(
                session, args.docs, info.context_length, generation.max_tokens
            )
        interactive = args.question is None and sys.stdin.isatty()
        chat = TerminalChat(engine, session, show_stats=args.stats or interactive)
        chat.show_passages = args.show_passages
        if args.question is not None:
            chat.ask(args.question)
        else:
            chat.run_interactive()
    finally:
        engine.close()
        if history is not None:
            history.close()
        if documents is not None:
            documents.close()
    return 0


def _terminal_instead(reason: str, model: str) -> int:
    print(f"huacaya: {reason}.\nhuacaya: starting the terminal chat instead.", file=sys.stderr)
    args = build_parser().parse_args(["chat", *(["--model", model] if model else [])])
    return run_chat(args)


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
    from desktop.self_test import run_self_test as self_test

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
        if args.command == "chat":
            return run_chat(args)
        if args.command == "models":
            return cli_models.run(args)
        if args.command == "serve":
            return cli_serve.run(args)
        if args.command == "docs":
            return cli_docs.run(args)
        return run_gui(getattr(args, "model", ""))
    except HuacayaError as exc:
        log.info("command failed: %s", exc, exc_info=True)
        print(f"huacaya: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing left to say
        return 0
