"""The rules that drop generated instructions a text-only model should not learn from.

Stanford's rules, each adjustable: an instruction of 3 words or fewer, or of more than 150;
one that mentions something a text model cannot see, make or do (a blacklist of whole words,
any case); one that starts with "Write a program" (their teacher added it to everything); one
that starts with punctuation or with a character outside ASCII.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

BLACKLIST = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps",
    "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
BANNED_PREFIXES = ("Write a program",)

# Why an instruction was dropped, as counted in the progress line and the summary.
TOO_SHORT = "too short"
TOO_LONG = "too long"
BLACKLISTED = "blacklisted word"
BANNED_PREFIX = "banned start"
PUNCTUATION = "starts with punctuation"
NON_ASCII = "starts with non-ASCII"


@dataclass(frozen=True)
class FilterRules:
    min_words: int = 3  # an instruction of this many words or fewer is dropped
    max_words: int = 150  # … and one of more than this many
    blacklist: tuple[str, ...] = BLACKLIST
    banned_prefixes: tuple[str, ...] = BANNED_PREFIXES  # case-sensitive, as Stanford's
    drop_punctuation_start: bool = True
    drop_non_ascii_start: bool = True

    def settings(self) -> dict[str, object]:
        return {
            "min_words": self.min_words,
            "max_words": self.max_words,
            "blacklist": list(self.blacklist),
            "banned_prefixes": list(self.banned_prefixes),
            "drop_punctuation_start": self.drop_punctuation_start,
            "drop_non_ascii_start": self.drop_non_ascii_start,
        }


class InstructionFilter:
    def __init__(self, rules: FilterRules | None = None) -> None:
        self.rules = rules or FilterRules()
        words = [re.escape(w) for w in self.rules.blacklist if w.strip()]
        self._blacklist = (
            # Whole words: Stanford's \b…\b, written so that entries like "c++" work too.
            re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)
            if words
            else None
        )

    def rejection(self, instruction: str) -> str | None:
        """Why ``instruction`` is dropped, or None when it passes every rule."""
        rules = self.rules
        words = len(instruction.split())
        if words <= rules.min_words:
            return TOO_SHORT
        if words > rules.max_words:
            return TOO_LONG
        if self._blacklist is not None and self._blacklist.search(instruction):
            return BLACKLISTED
        if any(instruction.startswith(p) for p in rules.banned_prefixes if p):
            return BANNED_PREFIX
        if rules.drop_punctuation_start and instruction[0] in string.punctuation:
            return PUNCTUATION
        if rules.drop_non_ascii_start and not instruction[0].isascii():
            return NON_ASCII
        return None
