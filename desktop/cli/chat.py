"""The terminal chat: one question, an interactive session, or questions piped on stdin.

What is asked and answered lives in a :class:`ChatSession` (saved in the history like the
window's chats, unless the session has no history); this module only reads and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TextIO

from conversion.progress import cancel_on_interrupt
from desktop.cli import docs
from desktop.cli.arguments import positive, sampling
from desktop.core import settings as settings_store
from desktop.core.chat.answer import run_answer
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.chat.session import ChatMessage, ChatSession, dropped_notice
from desktop.core.documents.context import Citation
from desktop.core.models.library import library_for, resolve_model

NAME = "chat"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("chat", help="chat in the terminal")
    parser.add_argument("question", nargs="?", help="answer this one question and exit")
    add_chat_options(parser)


def add_chat_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        "-m",
        default="",
        help="library name or id, or a path to a .gguf file (default: your "
        "default model, else the starter model)",
    )
    parser.add_argument("--ctx", type=positive, help="context length in tokens")
    parser.add_argument(
        "--temperature", "-t", type=sampling("temperature"), help="0 answers greedily"
    )
    parser.add_argument(
        "--max-tokens", "-n", type=sampling("max_tokens"), help="longest answer in tokens"
    )
    parser.add_argument("--seed", type=sampling("seed"), help="fixed seed for repeatable answers")
    parser.add_argument("--system", default="", help="system prompt")
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMAT_CHOICES,
        help="prompt format (auto: the model's chat template, else Alpaca)",
    )
    parser.add_argument("--threads", type=positive, help="CPU threads (default: physical cores)")
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
        metavar="COLLECTION",
        help="answer from this document collection (repeat for several); the passages used "
        "are listed after each answer",
    )
    parser.add_argument(
        "--show-passages",
        action="store_true",
        help="with --docs: print the exact passages given to the model",
    )


def run(args: argparse.Namespace) -> int:
    from desktop.cli.chat import TerminalChat
    from desktop.core.chat.engine import ChatEngine
    from desktop.core.chat.session import ChatSession
    from desktop.core.history.store import History

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
            documents = docs.documents_for_chat(
                session, args.docs, info.context_length, generation.max_tokens, info.parameter_count
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


class TerminalChat:
    def __init__(
        self,
        engine: ChatEngine,
        session: ChatSession,
        out: TextIO | None = None,
        err: TextIO | None = None,
        show_stats: bool = False,
    ) -> None:
        self.engine = engine
        self.session = session
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.show_stats = show_stats
        self.dropped = 0  # oldest messages already said to be left out of the model's view
        self.show_passages = False  # documents Q&A: print the passages given, not just where

    def ask(self, question: str) -> str:
        """Stream the answer to ``question``; the session keeps both."""
        request = self.session.ask(question)
        with cancel_on_interrupt(request.cancel):
            answer = run_answer(self.session, self.engine, request, self._show)
        self.out.write("\n")
        self.out.flush()
        self._notes(answer)
        self._sources(answer.citations)
        return answer.content

    def _show(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _sources(self, citations: list[Citation]) -> None:
        for citation in citations:
            self.err.write(f"[{citation.number}] {citation.label} — {citation.path}\n")
            if self.show_passages:
                self.err.write("    " + citation.text.replace("\n", "\n    ") + "\n")

    def _notes(self, answer: ChatMessage) -> None:
        if answer.ending:
            self.err.write(f"[{answer.ending.strip('()')}]\n")
        if answer.dropped > self.dropped:  # said once, when it grows
            self.err.write(f"[{dropped_notice(answer.dropped)}]\n")
        self.dropped = answer.dropped
        if self.show_stats and answer.speed:
            prompt = answer.stats.get("prompt_tokens", 0)
            self.err.write(f"[{answer.speed} · prompt {prompt} tokens]\n")

    def run_interactive(self, stdin: TextIO | None = None) -> None:
        """A session on a terminal: Ctrl+C stops the answer, Ctrl+D (or /bye) quits."""
        stdin = stdin or sys.stdin
        if not stdin.isatty():
            self.run_script(stdin)
            return
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
        info = self.engine.info
        name = info.name if info else "the model"
        self.err.write(f"Chatting with {name}. Ctrl+C stops an answer; Ctrl+D or /bye quits.\n")
        while True:
            try:
                question = input(">>> ").strip()
            except EOFError:
                self.err.write("\n")
                return
            except KeyboardInterrupt:
                self.err.write("\n")
                continue
            if question in {"/bye", "/exit", "/quit"}:
                return
            if question:
                self.ask(question)

    def run_script(self, stdin: TextIO) -> None:
        """Questions piped on stdin: one per line, all in one conversation."""
        for line in stdin:
            question = line.strip()
            if question:
                self.ask(question)
