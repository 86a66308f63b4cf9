"""Chat exports broken in the ways people's files break (and a few hostile ones): each must be
refused with one line naming the problem, or imported safely, and never harm the window."""

from __future__ import annotations

import json
from typing import Any

GOOD_MESSAGE = {"role": "user", "content": "hi"}


def export(**fields: Any) -> bytes:
    data = {"format": "huacaya-conversation", "version": 1, "messages": [GOOD_MESSAGE], **fields}
    return json.dumps(data).encode()


def message(**fields: Any) -> bytes:
    return export(messages=[{**GOOD_MESSAGE, **fields}])


# name → (file bytes, words the one-line refusal must contain; None: imported safely)
MALFORMED: dict[str, tuple[bytes, str | None]] = {
    "settings is a string": (export(settings="abc"), "settings"),
    "settings is a list": (export(settings=[1, 2]), "settings"),
    "settings is a number": (export(settings=3), "settings"),
    "generation is a string": (export(settings={"generation": "fast"}), "settings.generation"),
    "temperature is hot": (
        export(settings={"generation": {"temperature": "hot"}}),
        "settings.generation.temperature",
    ),
    "temperature out of range": (
        export(settings={"generation": {"temperature": 1e9}}),
        "settings.generation.temperature",
    ),
    "max_tokens is infinite": (
        export(settings={"generation": {"max_tokens": 1e999}}),
        "settings.generation.max_tokens",
    ),
    "top_k is true": (export(settings={"generation": {"top_k": True}}), "top_k"),
    "prompt format is a number": (export(settings={"prompt_format": 5}), "prompt_format"),
    "version is text": (export(version="one"), "version"),
    "version is a list": (export(version=[]), "version"),
    "version is newer": (export(version=2), "newer Huacaya"),
    "created_at is text": (export(created_at="yesterday"), "created_at"),
    "created_at is NaN": (export(created_at=float("nan")), "created_at"),
    "created_at is an object": (export(created_at={}), "created_at"),
    "message created_at is huge": (message(created_at=1e300), "messages[0].created_at"),
    "message created_at is NaN": (message(created_at=float("nan")), "messages[0].created_at"),
    "message stats is text": (message(stats="fast"), "messages[0].stats"),
    "message model is a number": (message(model=7), "messages[0].model"),
    "title is null": (export(title=None), "title"),
    "role is unknown": (message(role="robot"), "messages[0].role"),
    "content is missing": (export(messages=[{"role": "user"}]), "messages[0].content"),
    "messages is an object": (export(messages={"0": GOOD_MESSAGE}), "messages"),
    "nested a million deep": (b"[" * 1_000_000 + b"]" * 1_000_000, "nests too deeply"),
    "not UTF-8": (b'{"format": "huacaya-conversation", "title": "\xff\xfe"}', "cannot be read"),
    "not JSON": (b"{format: huacaya", "cannot be read as JSON"),
    "a list, not an object": (b"[1, 2, 3]", "not a Huacaya conversation export"),
    # what the window shows and edits is bounded (issue 30): a title, a system prompt
    "title too long": (export(title="T" * 1_001), "“title” is not valid: it should be at most"),
    "system prompt too long": (export(system_prompt="s" * 500_001), "“system_prompt”"),
    # text Python can hold but UTF-8 cannot (a lone surrogate) is refused; a NUL byte is text
    "lone surrogate in content": (message(content="a\ud800b"), "messages[0].content"),
    "lone surrogate in title": (export(title="\udfff"), "title"),
    "NUL byte in content": (message(content="a\x00b"), None),
}
