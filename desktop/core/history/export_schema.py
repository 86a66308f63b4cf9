"""The schema of a conversation export (version 1), checked in full before an import writes
anything: every field's type and range, so that nothing the window reads later (a chat's
settings, its messages' times and stats) can be of a shape it does not expect.

A message may carry its turn's other versions (``other_versions``: lists of messages, each that
version and what followed it, as ``export.py`` writes them) and its own number among them
(``version``); older exports have neither, and older Huacayas read the shown messages only.

Written out here rather than with a validation library: the app bundle deliberately leaves
pydantic out, and a dozen fields need no more than these few checks. The first bad field is
named in one line, e.g. ``messages[2].created_at``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from conversion.errors import HistoryError
from desktop.core.chat.folding import LONGEST_QUESTION
from desktop.core.history.store import LONGEST_TITLE
from desktop.core.settings import SAMPLING

# Seconds since 1970, up to the year 5000: a time a computer clock could have written.
LATEST_TIME = 95_617_584_000.0
LONGEST_TEXT = 64 << 20  # characters of one message (the window shows long ones folded)
LONGEST_SYSTEM_PROMPT = LONGEST_QUESTION  # what Settings edits, and is sent with every question
LONGEST_NAME = 1024  # characters of a model name
MAX_STATS = 64
ROLES = ("system", "user", "assistant")
MAX_VERSIONS = 1_000  # versions of one turn
MAX_VERSION_DEPTH = 100  # versions within a version within a version…
_SURROGATE = re.compile("[\ud800-\udfff]")
_HINT = "Nothing was imported. Export the chat again from Huacaya, or fix that field."


@dataclass(frozen=True)
class CheckedMessage:
    role: str
    content: str
    created_at: float | None
    model: str
    stats: dict[str, Any]
    version: int = 1  # its number among its turn's versions
    other_versions: tuple[tuple[CheckedMessage, ...], ...] = ()


@dataclass(frozen=True)
class CheckedExport:
    title: str
    model: str
    system_prompt: str
    settings: dict[str, Any]
    created_at: float | None
    messages: list[CheckedMessage]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _refuse(where: str, expected: str, value: Any) -> HistoryError:
    found = value if isinstance(value, _Found) else _shown(value)
    return HistoryError(
        f"The export's “{where}” is not valid: it should be {expected} (it is {found}).", _HINT
    )


class _Found(str):
    """A description of what was found, shown as it is (not as a value)."""


def _text(data: dict[str, Any], key: str, where: str, longest: int = LONGEST_TEXT) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _refuse(where, "text", value)
    if len(value) > longest:
        raise _refuse(where, f"at most {longest:,} characters", _Found(f"{len(value):,}"))
    if _SURROGATE.search(value):
        raise _refuse(where, "valid Unicode text", _Found("text with a lone surrogate"))
    return value


def _number(value: Any, where: str, low: float, high: float, whole: bool = False) -> float:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _refuse(where, "a whole number" if whole else "a number", value)
    if not (math.isfinite(value) and low <= value <= high):
        shown = [f"{n:,}" if isinstance(n, int) else f"{n:g}" for n in (low, high)]
        raise _refuse(where, f"a number from {shown[0]} to {shown[1]}", value)
    return value


def _time(data: dict[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and 0 <= value <= LATEST_TIME):
        raise _refuse(where, "a time in seconds since 1970, before the year 5000", value)
    return float(value)


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """A JSON scalar, or (one level down) a short list or object of them."""
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str):
            _text({"v": value}, "v", where, LONGEST_NAME)
        return value
    if isinstance(value, float):
        return _number(value, where, -math.inf, math.inf)
    if depth == 0 and isinstance(value, list) and len(value) <= MAX_STATS:
        return [_plain(v, f"{where}[{i}]", 1) for i, v in enumerate(value)]
    if depth == 0 and isinstance(value, dict) and len(value) <= MAX_STATS:
        return {k: _plain(v, f"{where}.{k}", 1) for k, v in value.items()}
    raise _refuse(where, "a plain value (text, number, true/false)", value)


def _settings(value: Any) -> dict[str, Any]:
    """What the app reads is checked field by field; other keys (a newer feature's) are kept
    when they are plain values, since only code that checks them reads them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse("settings", "an object", value)
    settings: dict[str, Any] = {}
    for key, item in value.items():
        where = f"settings.{key}"
        if key == "generation":
            if item is None:
                continue
            if not isinstance(item, dict):
                raise _refuse(where, "an object", item)
            settings[key] = {
                name: _number(item[name], f"{where}.{name}", limit.low, limit.high, limit.whole)
                for name, limit in SAMPLING.items()
                if item.get(name) is not None
            }
        elif key == "prompt_format":
            settings[key] = _text(value, key, where, 64)
        elif key == "collections":
            if not isinstance(item, list) or len(item) > MAX_STATS:
                raise _refuse(where, f"a list of at most {MAX_STATS} collection names", item)
            names = enumerate(item)
            settings[key] = [_text({"v": n}, "v", f"{where}[{i}]", LONGEST_NAME) for i, n in names]
        else:
            settings[key] = _plain(item, where)
    return settings


def _versions(value: dict[str, Any], where: str, depth: int) -> tuple[int, tuple[Any, ...]]:
    """A message's number among its turn's versions, and the other versions checked."""
    others = value.get("other_versions")
    if others is None or others == []:
        if value.get("version") not in (None, 1):
            raise _refuse(
                f"{where}.version", "1 (the turn has no other versions)", value["version"]
            )
        return 1, ()
    if not isinstance(others, list) or len(others) > MAX_VERSIONS:
        raise _refuse(f"{where}.other_versions", f"a list of at most {MAX_VERSIONS:,}", others)
    if depth >= MAX_VERSION_DEPTH:
        raise _refuse(
            f"{where}.other_versions",
            f"at most {MAX_VERSION_DEPTH} versions deep",
            _Found("deeper"),
        )
    checked = []
    for number, other in enumerate(others):
        at = f"{where}.other_versions[{number}]"
        if not isinstance(other, list) or not other:
            raise _refuse(at, "a list of messages (that version, then what followed)", other)
        first = other[0]
        if isinstance(first, dict) and first.get("other_versions"):
            raise _refuse(
                f"{at}[0].other_versions", "absent (they are this list's)", _Found("a list")
            )
        messages = tuple(_message(m, f"{at}[{i}]", depth + 1) for i, m in enumerate(other))
        if messages[0].role != value.get("role"):
            raise _refuse(
                f"{at}[0].role", f"{value.get('role')}, as the version shown", first["role"]
            )
        checked.append(messages)
    total = len(checked) + 1
    version = value.get("version", total)
    return int(_number(version, f"{where}.version", 1, total, whole=True)), tuple(checked)


def _message(value: Any, where: str, depth: int = 0) -> CheckedMessage:
    if not isinstance(value, dict):
        raise _refuse(where, "an object", value)
    if value.get("role") not in ROLES:
        raise _refuse(f"{where}.role", "system, user or assistant", value.get("role"))
    if not isinstance(value.get("content"), str):
        raise _refuse(f"{where}.content", "text", value.get("content"))
    stats = value.get("stats") or {}
    if not isinstance(stats, dict) or len(stats) > MAX_STATS:
        raise _refuse(f"{where}.stats", f"an object of at most {MAX_STATS} values", stats)
    version, other_versions = _versions(value, where, depth)
    return CheckedMessage(
        version=version,
        other_versions=other_versions,
        role=value["role"],
        content=_text(value, "content", f"{where}.content"),
        created_at=_time(value, "created_at", f"{where}.created_at"),
        model=_text(value, "model", f"{where}.model", LONGEST_NAME),
        stats={
            _text({"k": k}, "k", f"{where}.stats", 64): _plain(v, f"{where}.stats.{k}", 1)
            for k, v in stats.items()
        },
    )


def validated_export(data: dict[str, Any]) -> CheckedExport:
    """``data`` (an export's JSON object) checked in full, or HistoryError naming the first
    bad field."""
    if "version" in data:
        _number(data["version"], "version", 1, 1, whole=True)
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise _refuse("messages", "a list", messages)
    return CheckedExport(
        title=_text(data, "title", "title", LONGEST_TITLE),
        model=_text(data, "model", "model", LONGEST_NAME),
        system_prompt=_text(data, "system_prompt", "system_prompt", LONGEST_SYSTEM_PROMPT),
        settings=_settings(data.get("settings")),
        created_at=_time(data, "created_at", "created_at"),
        messages=[_message(m, f"messages[{i}]") for i, m in enumerate(messages)],
    )
