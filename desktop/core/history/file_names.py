"""File names made from chat titles: safe on Windows, macOS and Linux, and unique in one folder.

A title may hold anything a person typed: slashes, colons, emoji, control or bidi characters,
a name Windows reserves (CON, NUL, COM1…), thousands of characters, or the same words as another
chat's. Each becomes a name every file system accepts and no two names in a folder collide, not
even on a file system that ignores case (Windows, macOS) or stores names decomposed (macOS).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

LONGEST_STEM = 80  # characters of a name before " (2).md"
LONGEST_STEM_BYTES = 180  # UTF-8 bytes (most file systems allow 255 per name)
FALLBACK = "Conversation"

# Characters Windows refuses in names (and the slash every system does), control characters,
# and the bidi controls that can make a name read as another (``chat‮dm.exe``).
_UNSAFE = re.compile('[<>:"/\\\\|?*\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]+')
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    *(f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]),
}


def _stem(title: str) -> str:
    text = unicodedata.normalize("NFC", title)
    text = " ".join(_UNSAFE.sub(" ", text).split())
    if len(text) > LONGEST_STEM:
        text = text[:LONGEST_STEM]
    while len(text.encode("utf-8")) > LONGEST_STEM_BYTES:
        text = text[:-1]
    # Windows drops trailing dots and spaces; a leading dot hides the file elsewhere; a cut may
    # leave half of an emoji sequence (a joiner) at the end.
    text = text.strip(" .\u200d").lstrip(".")
    if not text:
        return FALLBACK
    if text.split(".")[0].strip().upper() in _RESERVED:  # CON, con.txt, COM1 …
        text = f"{text} chat"
    return text


def unique_names(
    titles: Iterable[str], suffix: str = ".md", taken: Iterable[str] = ()
) -> list[str]:
    """One file name per title, in order: ``Title.md``, then ``Title (2).md``… for the same
    title again; never one of ``taken`` (compared as the file system may: ignoring case)."""
    used = {_key(name) for name in taken}
    names = []
    for title in titles:
        stem = _stem(title)
        name, number = f"{stem}{suffix}", 1
        while _key(name) in used:
            number += 1
            name = f"{stem} ({number}){suffix}"
        used.add(_key(name))
        names.append(name)
    return names


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()
