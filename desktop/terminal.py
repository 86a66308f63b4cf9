"""The terminal chat: one question, an interactive session, or questions piped on stdin.

What is asked and answered lives in a :class:`ChatSession` (saved in the history like the
window's chats, unless the session has no history); this module only reads and prints.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO

from desktop.core.documents.context import Citation
from desktop.core.engine import ChatEngine, GenerationStats
from desktop.core.errors import GenerationError
from desktop.core.progress import cancel_on_interrupt
from desktop.core.session import LENGTH, STOPPED, ChatSession, dropped_notice


def format_stats(stats: GenerationStats) -> str:
    return (
        f"[{stats.generated_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · first token "
        f"{stats.time_to_first_token:.2f} s · prompt {stats.prompt_tokens} tokens]"
    )


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
        self.engine.set_prompt_format(request.prompt_format)
        with cancel_on_interrupt(request.cancel):
            try:
                for delta in self.engine.stream(request.messages, request.settings, request.cancel):
                    self.out.write(self.session.add_delta(delta))
                    self.out.flush()
            except BaseException:
                self.session.fail()
                raise
        stats = self.engine.last_stats
        answer = self.session.finish(stats)
        self.out.write("\n")
        self.out.flush()
        self._notes(stats)
        self._sources(answer.citations)
        return answer.content

    def _sources(self, citations: list[Citation]) -> None:
        for citation in citations:
            self.err.write(f"[{citation.number}] {citation.label} — {citation.path}\n")
            if self.show_passages:
                self.err.write("    " + citation.text.replace("\n", "\n    ") + "\n")

    def _notes(self, stats: GenerationStats | None) -> None:
        if stats is None:
            return
        if stats.finish_reason == "cancelled":
            self.err.write(f"[{STOPPED.strip('()')}]\n")
        elif stats.finish_reason == "length":
            self.err.write(f"[{LENGTH.strip('()')}]\n")
        if stats.dropped_messages > self.dropped:  # said once, when it grows
            self.err.write(f"[{dropped_notice(stats.dropped_messages)}]\n")
        self.dropped = stats.dropped_messages
        if self.show_stats:
            self.err.write(format_stats(stats) + "\n")

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
                try:
                    self.ask(question)
                except GenerationError as exc:  # this question failed; the session goes on
                    self.err.write(f"huacaya: {exc}\n")

    def run_script(self, stdin: TextIO) -> None:
        """Questions piped on stdin: one per line, all in one conversation."""
        for line in stdin:
            question = line.strip()
            if question:
                self.ask(question)
