"""The terminal chat: one question, an interactive session, or questions piped on stdin."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import TextIO

from desktop.core.engine import ChatEngine, GenerationStats
from desktop.core.prompts import Message
from desktop.core.settings import GenerationSettings


def format_stats(stats: GenerationStats) -> str:
    return (
        f"[{stats.generated_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · first token "
        f"{stats.time_to_first_token:.2f} s · prompt {stats.prompt_tokens} tokens]"
    )


@contextlib.contextmanager
def _ctrl_c_stops(engine: ChatEngine) -> Iterator[None]:
    """While an answer streams, Ctrl+C stops it instead of killing the program."""

    def handler(signum: int, frame: object) -> None:
        engine.stop()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class TerminalChat:
    def __init__(
        self,
        engine: ChatEngine,
        settings: GenerationSettings,
        system_prompt: str = "",
        out: TextIO | None = None,
        err: TextIO | None = None,
        show_stats: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.show_stats = show_stats
        self.messages: list[Message] = []
        self.dropped = 0  # oldest messages already left out of the model's view
        if system_prompt:
            self.messages.append({"role": "system", "content": system_prompt})

    def ask(self, question: str) -> str:
        """Stream the answer to ``question`` and remember both in the conversation."""
        self.messages.append({"role": "user", "content": question})
        parts: list[str] = []
        started = False
        with _ctrl_c_stops(self.engine):
            try:
                for delta in self.engine.stream(self.messages, self.settings):
                    if not started:  # the models' habit of opening with a space or newline
                        delta = delta.lstrip()
                        started = bool(delta)
                    parts.append(delta)
                    self.out.write(delta)
                    self.out.flush()
            except BaseException:
                self.messages.pop()
                raise
        answer = "".join(parts)
        self.out.write("\n")
        self.out.flush()
        stats = self.engine.last_stats
        if stats is not None and stats.finish_reason == "cancelled":
            self.err.write("[stopped]\n")
        if stats is not None and stats.dropped_messages > self.dropped:
            self.err.write(
                f"[the {stats.dropped_messages} oldest messages no longer fit the context "
                "and were left out]\n"
            )
        if stats is not None:
            self.dropped = stats.dropped_messages
        if self.show_stats and stats is not None:
            self.err.write(format_stats(stats) + "\n")
        self.messages.append({"role": "assistant", "content": answer})
        return answer

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
