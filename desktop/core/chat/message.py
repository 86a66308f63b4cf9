"""One message of a conversation as the session holds it (ChatMessage), and the notes shown
under an answer that ended early (stopped, length limit, older turns left out)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from desktop.core.chat.prompts import Message, Role
from desktop.core.documents.context import Citation

_keys = itertools.count(1)

STOPPED = "(stopped)"
LENGTH = "(reached the answer length limit)"


def dropped_notice(count: int) -> str:
    return (
        f"The {count} oldest messages no longer fit in the model's context and were left out "
        "of this answer."
    )


@dataclass
class ChatMessage:
    role: Role
    content: str
    id: int | None = None  # its row in the history; None while unsaved (or never saved)
    model: str = ""  # who answered
    stats: dict[str, Any] = field(default_factory=dict)
    key: int = field(default_factory=lambda: next(_keys))
    version: int = 1  # which version of its turn this is (Regenerate and Edit make more)…
    versions: int = 1  # …of how many

    @property
    def version_label(self) -> str:
        """``2/3`` for the second of three versions; "" for a turn with one."""
        return f"{self.version}/{self.versions}" if self.versions > 1 else ""

    @property
    def dropped(self) -> int:
        """How many of the oldest messages the model did not see for this answer."""
        dropped = self.stats.get("dropped_messages") or 0
        return dropped if isinstance(dropped, int) and dropped > 0 else 0

    @property
    def ending(self) -> str:
        """How the answer ended, when that is worth saying: stopped, or cut at the length limit."""
        reason = self.stats.get("finish_reason")
        return STOPPED if reason == "cancelled" else LENGTH if reason == "length" else ""

    @property
    def speed(self) -> str:
        """``42 tokens · 71.3 tok/s · first token 0.12 s``; "" for an answer without figures."""
        s = self.stats
        if not isinstance(s.get("generated_tokens"), int):
            return ""
        return (
            f"{s['generated_tokens']} tokens · {s.get('tokens_per_second', 0.0):.1f} tok/s · "
            f"first token {s.get('time_to_first_token', 0.0):.2f} s"
        )

    @property
    def note(self) -> str:
        """What to show under an answer: how it ended, and whether older turns were left out."""
        notes = [dropped_notice(self.dropped)] if self.dropped else []
        return " ".join([*notes, *([self.ending] if self.ending else [])])

    def as_prompt(self) -> Message:
        return {"role": self.role, "content": self.content}

    @property
    def citations(self) -> list[Citation]:
        """The numbered passages this answer was given (documents Q&A), exactly as given."""
        sources = self.stats.get("sources")
        return [Citation.from_record(s) for s in sources] if isinstance(sources, list) else []
