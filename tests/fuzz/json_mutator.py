"""Seeded mutations of JSON documents (chat exports, API requests, tokenizer files): a value
replaced by a hostile one, a key dropped or added, a node nested deep, a text made huge or
invalid; then, sometimes, the serialized bytes damaged too."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**63,
    -(2**63) - 1,
    10**30,
    float("nan"),
    float("inf"),
    "",
    " ",
    "x" * 100_000,
    "\ud800",
    "a\udfffb",
    "\x00",
    "\u2028\u2029\u0085",
    "\x1b[2J\x1b]0;title\x07",
    "\u202e\ufeff",
    "{{ 7 * 7 }}{% for i in range(10**9) %}x{% endfor %}",
    "../../etc/passwd",
    "🦙" * 1000,
    [],
    {},
    [None],
    {"": None},
    list(range(100)),
    {"role": "user", "content": "hi"},
]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (the root included), iteratively."""
    found: list[tuple[Any, ...]] = []
    pending = [(path, value)]
    while pending:
        where, node = pending.pop()
        found.append(where)
        if isinstance(node, dict):
            pending.extend(((*where, key), item) for key, item in node.items())
        elif isinstance(node, list):
            pending.extend(((*where, index), item) for index, item in enumerate(node))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = _get(value, path[:-1])
    parent[path[-1]] = new
    return value


_DEEP = re.compile(r'"@@deep:(\d+):(list|object)@@"')


def _deep(rng: random.Random) -> str:
    """A marker that :func:`serialize` turns into that many levels of nesting (kept as text
    until then, so copying and dumping the document never recurse that deep)."""
    return f"@@deep:{rng.choice([50, 300, 5_000, 50_000])}:{rng.choice(['list', 'object'])}@@"


def _nested(match: re.Match[str]) -> str:
    depth = int(match[1])
    if match[2] == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


def mutate_value(document: Any, rng: random.Random) -> tuple[Any, str]:
    """One structural mutation of a copy of ``document``, and what it was."""
    value = copy.deepcopy(document)
    path = rng.choice(_nodes(value))
    node = _get(value, path)
    choice = rng.random()
    where = "/".join(map(str, path)) or "(root)"
    if choice < 0.45:
        new = copy.deepcopy(rng.choice(HOSTILE))
        return _set(value, path, new), f"{where} = {repr(new)[:40]}"
    if choice < 0.55 and path:
        parent = _get(value, path[:-1])
        del parent[path[-1]]
        return value, f"{where} removed"
    if choice < 0.65:
        return _set(value, path, _deep(rng)), f"{where} nested deep"
    if choice < 0.75 and isinstance(node, str):
        text = node * rng.choice([2, 1000, 100_000]) if node else "y" * 1_000_000
        return _set(value, path, text[:4_000_000]), f"{where} made long"
    if choice < 0.85 and isinstance(node, (list, dict)):
        count = rng.choice([0, 2, 1000, 100_000])
        items = list(node.values()) if isinstance(node, dict) else node
        item = copy.deepcopy(rng.choice(items or [1]))
        if isinstance(node, list):
            return _set(value, path, [item] * count), f"{where} × {count}"
        return _set(value, path, {f"k{i}": item for i in range(count)}), f"{where} × {count} keys"
    if isinstance(node, dict):
        node[rng.choice(["", "\ud800", "x" * 1000, "__proto__", "role"])] = rng.choice(HOSTILE)
        return value, f"{where} got a stray key"
    return _set(value, path, str(node) + "\ud800"), f"{where} as text with a surrogate"


def serialize(value: Any, rng: random.Random) -> tuple[bytes, str]:
    """``value`` as JSON bytes, sometimes damaged: cut, a byte flipped, not UTF-8."""
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    text = _DEEP.sub(_nested, text)
    try:
        data = text.encode("utf-8", "surrogatepass")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    choice = rng.random()
    if choice < 0.06 and data:
        return data[: rng.randrange(len(data))], "truncated"
    if choice < 0.10 and data:
        position = rng.randrange(len(data))
        flipped = data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :]
        return flipped, "a byte flipped"
    if choice < 0.12:
        return b"\xff\xfe" + data, "not UTF-8"
    return data, ""
