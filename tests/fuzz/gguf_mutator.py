"""Seeded mutations of a GGUF file's header, for the fuzz tests.

The header (metadata and tensor table) is decoded into Python values, mutated the way a damaged
or hostile file would be, and encoded again; the tensor data is copied as it is behind it. Each
mutation says what it did, so a failure names the file that caused it.
"""

from __future__ import annotations

import os
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path

SCALARS = {
    **{0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"},
    **{10: "<Q", 11: "<q", 12: "<d"},
}
STRING, ARRAY = 8, 9
INT_TYPES = (0, 1, 2, 3, 4, 5, 10, 11)

HOSTILE_TEMPLATES = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'a' * 10**9 }}",
    "{{ 'a' * 1000000000 }}",
    "{% for m in messages %",
    "{{ messages[0].content|center(1000000000) }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ raise_exception('no') }}",
    "{{ messages|length / 0 }}",
    "{{ '%1000000000s' % 'a' }}",
    "{{ messages }}" * 20000,
]
KNOWN_TOKENIZERS = ["no_vocab", "none", "llama", "bert", "gpt2", "t5", "rwkv", "plamo2", "gemma4"]


@dataclass
class Header:
    version: int
    kvs: list[tuple[str, int, object]]  # key, type, value (arrays: (item type, list))
    tensors: list[tuple[str, list[int], int, int]]  # name, dims, type, offset
    data: tuple[int, int] = (0, 0)  # where the tensor data lies in the original file
    flips: list[tuple[float, int]] = field(default_factory=list)  # (where in the header, xor)
    notes: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.pos = raw, 0

    def take(self, fmt: str) -> object:
        value = struct.unpack_from(fmt, self.raw, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        text = self.raw[self.pos : self.pos + length].decode("utf-8", "surrogateescape")
        self.pos += length
        return text

    def value(self, value_type: int) -> object:
        if value_type in SCALARS:
            return self.take(SCALARS[value_type])
        if value_type == STRING:
            return self.string()
        item_type, count = self.take("<I"), self.take("<Q")
        return (item_type, [self.value(item_type) for _ in range(count)])


def read_header(path: Path) -> Header:
    with path.open("rb") as handle:
        raw = handle.read(64 << 20)  # the header of a small model is well within this
    r = _Reader(raw)
    assert r.take("<4s") == b"GGUF"
    version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    kvs = []
    alignment = 32
    for _ in range(n_kv):
        key, value_type = r.string(), r.take("<I")
        value = r.value(value_type)
        if key == "general.alignment":
            alignment = value
        kvs.append((key, value_type, value))
    tensors = []
    for _ in range(n_tensors):
        name, n_dims = r.string(), r.take("<I")
        dims = [r.take("<Q") for _ in range(n_dims)]
        tensors.append((name, dims, r.take("<I"), r.take("<Q")))
    start = (r.pos + alignment - 1) // alignment * alignment
    return Header(version, kvs, tensors, (start, path.stat().st_size - start))


def _encode_value(value_type: int, value: object) -> bytes:
    if value_type in SCALARS:
        return struct.pack(SCALARS[value_type], value)
    if value_type == STRING:
        raw = str(value).encode("utf-8", "surrogateescape")
        return struct.pack("<Q", len(raw)) + raw
    item_type, items = value  # type: ignore[misc]
    body = b"".join(_encode_value(item_type, item) for item in items)
    return struct.pack("<IQ", item_type, len(items)) + body


def write(header: Header, source: Path, target: Path, truncate_at: int | None = None) -> None:
    parts = [b"GGUF", struct.pack("<IQQ", header.version, len(header.tensors), len(header.kvs))]
    alignment = 32
    for key, value_type, value in header.kvs:
        usable = value_type in INT_TYPES and isinstance(value, int) and value > 0
        if key == "general.alignment" and usable:
            alignment = value
        parts.append(_encode_value(STRING, key) + struct.pack("<I", value_type))
        parts.append(_encode_value(value_type, value))
    for name, dims, type_id, offset in header.tensors:
        parts.append(_encode_value(STRING, name) + struct.pack("<I", len(dims)))
        parts.append(b"".join(struct.pack("<Q", d & (2**64 - 1)) for d in dims))
        parts.append(struct.pack("<IQ", type_id, offset & (2**64 - 1)))
    head = bytearray(b"".join(parts))
    for where, xor in header.flips:
        head[4 + int(where * (len(head) - 4))] ^= xor
    if alignment & (alignment - 1) == 0 and alignment < 1 << 20:
        head += b"\0" * (-len(head) % alignment)
    with target.open("wb") as out, source.open("rb") as src:
        out.write(head)
        start, length = header.data
        os.copy_file_range(src.fileno(), out.fileno(), length, start)
    if truncate_at is not None:
        os.truncate(target, min(truncate_at, target.stat().st_size))


def _random_value(rng: random.Random) -> tuple[int, object]:
    kind = rng.choice(["int", "neg", "huge", "float", "string", "ints", "strings", "bool"])
    return {
        "int": (4, rng.choice([0, 1, 7, 2**31, 2**32 - 1])),
        "neg": (5, rng.choice([-1, -(2**31)])),
        "huge": (10, rng.choice([2**40, 2**63 - 1, 2**64 - 1])),
        "float": (6, rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e30])),
        "string": (STRING, rng.choice(["", "abc", "x" * 300, "\udcff"])),
        "ints": (ARRAY, (5, [rng.randrange(-5, 2**31) for _ in range(rng.randrange(0, 40))])),
        "strings": (ARRAY, (STRING, ["a"] * rng.randrange(0, 5))),
        "bool": (7, True),
    }[kind]


def _kv_index(header: Header, rng: random.Random, prefer: tuple[str, ...] = ()) -> int:
    keys = [i for i, (key, _, _) in enumerate(header.kvs) if key.endswith(prefer)] if prefer else []
    return rng.choice(keys or range(len(header.kvs)))


IMPORTANT = (
    "context_length",
    "block_count",
    "embedding_length",
    "feed_forward_length",
    "head_count",
    "head_count_kv",
    "dimension_count",
    "vocab_size",
    "file_type",
    "alignment",
    "freq_base",
    "rms_epsilon",
    "tokenizer.ggml.model",
    "bos_token_id",
    "eos_token_id",
    "architecture",
)


def mutate(base: Header, rng: random.Random) -> tuple[Header, int | None]:
    """A mutated copy of ``base`` and, sometimes, a length to truncate the file to."""
    h = Header(base.version, list(base.kvs), list(base.tensors), base.data, [], [])
    truncate = None
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choice(
            [
                "retype",
                "retype",
                "extreme",
                "extreme",
                "tokenizer",
                "template",
                "template",
                "drop",
                "duplicate",
                "array_length",
                "tensor",
                "tensor",
                "flip",
                "truncate",
                "version",
            ]
        )
        if kind in ("retype", "extreme", "drop", "duplicate"):
            i = _kv_index(h, rng, IMPORTANT)
            key = h.kvs[i][0]
            if kind == "retype":
                h.kvs[i] = (key, *_random_value(rng))
            elif kind == "extreme":
                h.kvs[i] = (key, rng.choice([4, 5, 10, 11]), rng.choice([0, 2**31 - 1, 2**31]))
                if h.kvs[i][1] == 5 and h.kvs[i][2] >= 2**31:
                    h.kvs[i] = (key, 5, -1)
            elif kind == "drop":
                del h.kvs[i]
            else:
                h.kvs.insert(rng.randrange(len(h.kvs) + 1), (key, *_random_value(rng)))
            h.notes.append(f"{kind} {key}")
        elif kind == "tokenizer":
            i = next(i for i, kv in enumerate(h.kvs) if kv[0] == "tokenizer.ggml.model")
            name = rng.choice([*KNOWN_TOKENIZERS, "sentencepiece", "", "x" * 100])
            h.kvs[i] = ("tokenizer.ggml.model", STRING, name)
            h.notes.append(f"tokenizer {name!r}")
        elif kind == "template":
            template = rng.choice(HOSTILE_TEMPLATES)
            h.kvs = [kv for kv in h.kvs if kv[0] != "tokenizer.chat_template"]
            h.kvs.append(("tokenizer.chat_template", STRING, template))
            h.notes.append(f"template {template[:40]!r}")
        elif kind == "array_length":
            i = _kv_index(h, rng, ("tokens", "scores", "token_type", "merges"))
            key, value_type, (item_type, items) = h.kvs[i]  # type: ignore[misc]
            h.kvs[i] = (key, value_type, (item_type, items[: rng.randrange(len(items))]))
            h.notes.append(f"shorten {key}")
        elif kind == "tensor":
            j = rng.randrange(len(h.tensors))
            name, dims, type_id, offset = h.tensors[j]
            what = rng.choice(["dim", "type", "offset", "name", "rank"])
            if what == "dim":
                dims = list(dims)
                dims[rng.randrange(len(dims))] = rng.choice([0, 1, 2 * dims[0], 2**40, 2**63])
            elif what == "type":
                type_id = rng.choice([0, 1, 2, 3, 8, 12, 14, 30, 39, 1000])
            elif what == "offset":
                offset = rng.choice([offset + 1, offset + 32, 0, 2**40, 2**64 - 32])
            elif what == "name":
                name = rng.choice([h.tensors[0][0], "x" * 100, "", "blk.999.attn_q.weight"])
            else:
                dims = [*dims, 1, 1, 1]
            h.tensors[j] = (name, dims, type_id, offset)
            h.notes.append(f"tensor {what} of {h.tensors[j][0][:30]}")
        elif kind == "flip":
            # mostly within the metadata before the vocabulary (~first 2 KB), sometimes anywhere
            where = rng.random() * (0.001 if rng.random() < 0.7 else 1.0)
            h.flips.append((where, 1 << rng.randrange(8)))
            h.notes.append(f"flip at {where:.4f}")
        elif kind == "truncate":
            truncate = rng.randrange(24, 8 << 20)
            h.notes.append(f"truncate at {truncate}")
        else:
            h.version = rng.choice([0, 1, 4, 2**31])
            h.notes.append(f"version {h.version}")
    return h, truncate


def variant(source: Path, target: Path, **changes: tuple[int, object] | None) -> Path:
    """``source`` with metadata keys replaced (``None`` drops one); dots in keys spelled ``__``."""
    header = read_header(source)
    for name, change in changes.items():
        key = name.replace("__", ".")
        header.kvs = [kv for kv in header.kvs if kv[0] != key]
        if change is not None:
            header.kvs.append((key, *change))
    write(header, source, target)
    return target
