"""Small wording helpers shared by the window and the terminal."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``, ``0 files``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
