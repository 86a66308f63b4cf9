"""The context meter: how much of the model's context the next question takes, counted with the
model's own tokenizer and prompt format, and which earlier messages it would push out.

The count is what the engine would give the model if the draft were sent now: the system prompt,
the conversation from where its window starts (``context_window``), and the draft as the latest
question. Left out is decided by :func:`~desktop.core.chat.context_window.fit_to_context`, the
same function the engine answers with, so the meter and the answer never disagree. Counting
renders and tokenizes about a context's worth of text (a few milliseconds for thousands of
tokens); the window runs it on the engine's thread, never its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conversion.errors import PromptTooLongError
from desktop.core.chat.context_window import (
    MOST_CHARACTERS_PER_TOKEN,
    Tokens,
    fit_to_context,
    window_start,
)
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import WindowAnchor


@dataclass(frozen=True)
class Draft:
    """What the meter measures: the conversation as the model is given it (system prompt first),
    the question being typed, and the chat's settings that decide the room left."""

    messages: list[Message]
    draft: str
    prompt_format: str
    max_tokens: int
    anchor: WindowAnchor | None = None


@dataclass(frozen=True)
class ContextUse:
    used: int | None  # tokens of the next prompt (None: far more than the context, not counted)
    context: int  # the model's context, in tokens
    reserve: int  # of which kept for the answer
    left_out: int = 0  # earlier messages the model no longer sees
    will_leave_out: int = 0  # …and those the next question pushes out too
    too_long: bool = False  # the question does not fit even alone

    @property
    def warning(self) -> bool:
        return self.will_leave_out > 0 or self.too_long

    @property
    def figures(self) -> str:
        """ "1,234 / 8,192 tokens"."""
        used = f"{self.used:,}" if self.used is not None else f"over {self.context:,}"
        return f"{used} / {self.context:,} tokens"

    @property
    def notice(self) -> str:
        """What will happen to earlier messages ("" when nothing is left out)."""
        if self.too_long:
            return "the question is too long for the context"
        if self.will_leave_out:
            return f"{_messages(self.will_leave_out)} will be left out"
        if self.left_out:
            return f"{_messages(self.left_out)} left out"
        return ""

    @property
    def text(self) -> str:
        return f"{self.figures} · {self.notice}" if self.notice else self.figures

    @property
    def short_text(self) -> str:
        """The same in fewer words, where the room is short: "474 / 512 · 2 out next"."""
        used = f"{self.used:,}" if self.used is not None else f">{self.context:,}"
        figures = f"{used} / {self.context:,}"
        if self.too_long:
            return f"{figures} · too long"
        if self.will_leave_out:
            return f"{figures} · {self.will_leave_out} out next"
        return f"{figures} · {self.left_out} out" if self.left_out else figures

    @property
    def explanation(self) -> str:
        """The longer story, for a tooltip."""
        lines = [
            f"The conversation with what you are typing takes {self.figures} of the model's "
            f"context; {self.reserve:,} are kept for the answer (the answer length in "
            "Settings, at most half the context)."
        ]
        if self.too_long:
            lines.append("Shorten the question, lower the answer length, or raise the context.")
        elif self.will_leave_out:
            lines.append(
                f"Sending it leaves out the {_messages(self.will_leave_out)} oldest of this chat "
                "for the model: it will not see them (they stay in the chat)."
            )
        elif self.left_out:
            lines.append(
                f"The model no longer sees the {_messages(self.left_out)} oldest of this chat."
            )
        return "\n".join(lines)


def _messages(count: int) -> str:
    return f"{count} earlier message{'s' if count != 1 else ''}"


def measure(draft: Draft, tokenize: Callable[[list[Message]], Tokens], context: int) -> ContextUse:
    """How the next question fits ``context``. ``tokenize`` renders messages with the chat's
    prompt format and tokenizes them, as the engine does (``ChatEngine.prompt_tokens``)."""
    reserve = min(max(draft.max_tokens, 1), context // 2)
    asked: list[Message] = [*draft.messages, {"role": "user", "content": draft.draft}]
    system = [m for m in asked[:1] if m["role"] == "system"]
    older = asked[len(system) : -1]
    already = window_start(older, draft.anchor)
    try:
        fitted = fit_to_context(asked, tokenize, context, reserve, draft.anchor)
    except PromptTooLongError:
        return ContextUse(None, context, reserve, already, 0, too_long=True)
    more = fitted.dropped - already
    if more <= 0:
        return ContextUse(len(fitted.tokens), context, reserve, already)
    # What the prompt would take if nothing more were left out (when that is worth counting).
    whole = system + older[already:] + asked[-1:]
    used: int | None = None
    if sum(len(m["content"]) for m in whole) <= 2 * context * MOST_CHARACTERS_PER_TOKEN:
        used = len(tokenize(whole))
    return ContextUse(used, context, reserve, already, more)
