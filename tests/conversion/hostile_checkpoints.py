"""Seeded mutations of small Hugging Face checkpoints, converted one after the other in one
process that reports each outcome as a JSON line (run as ``python -m``, see the test).

Each mutation changes config.json (wrong types, huge or negative values, missing keys), the
safetensors header (offsets past the end or overlapping, wrong shapes and dtypes, malformed
entries), a tokenizer file or the shard index (tests/fuzz/json_mutator.py), or puts a pipe, a
device or kernel file link, a loop or a link out of the folder where a file belongs. Sources
alternate between the checkpoints given (a SentencePiece LLaMA, a BPE Qwen2). The worker
converts each mutant with a time limit and an address-space limit, and prints
``{"case", "outcome", "message", "hint", "seconds", "maxrss_mb"}``: outcome ``ok``
(converted), ``refused`` (a HuacayaError), ``traceback`` (anything else) or ``timeout``.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HOSTILE_VALUES: list[Any] = [
    "12",
    [1, 2],
    {"a": 1},
    None,
    True,
    -1,
    0,
    10**12,
    2**63,
    1.5,
    float("nan"),
    "x" * 10_000,
]
CONFIG_KEYS = [
    "num_hidden_layers",
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "architectures",
    "rope_scaling",
]
CASE_SECONDS = 20


def _header(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _write_header(path: Path, header: Any, body: bytes, size_field: int | None = None) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if size_field is None else size_field) + raw + body)


def mutate_config(folder: Path, rng: random.Random) -> str:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    choice = rng.random()
    if choice < 0.08:
        path.write_text(json.dumps(config)[: rng.randrange(1, 200)])
        return "config.json truncated"
    if choice < 0.12:
        path.write_text(json.dumps([config]))
        return "config.json a list"
    key = rng.choice(CONFIG_KEYS)
    if choice < 0.2:
        config.pop(key, None)
        path.write_text(json.dumps(config))
        return f"config.json without {key}"
    if key == "rope_scaling" and rng.random() < 0.5:
        value: Any = {"rope_type": "llama3", "factor": rng.choice(HOSTILE_VALUES)}
    else:
        value = rng.choice(HOSTILE_VALUES)
    config[key] = value
    path.write_text(json.dumps(config))
    return f"config.json {key} = {str(value)[:30]}"


def mutate_safetensors(folder: Path, rng: random.Random) -> str:
    path = folder / "model.safetensors"
    header, body = _header(path)
    names = [n for n in header if n != "__metadata__"]
    name = rng.choice(names)
    entry = header[name]
    choice = rng.randrange(14)
    if choice == 0:
        entry["data_offsets"] = [entry["data_offsets"][0], len(body) + rng.randrange(1, 10**9)]
        what = "offsets past the end"
    elif choice == 1:
        other = header[rng.choice(names)]
        entry["data_offsets"] = list(other["data_offsets"])
        entry["shape"], entry["dtype"] = other["shape"], other["dtype"]
        what = "overlapping data"
    elif choice == 2:
        entry["data_offsets"] = entry["data_offsets"][::-1]
        what = "reversed offsets"
    elif choice == 3:
        entry["data_offsets"] = [rng.choice(HOSTILE_VALUES), rng.choice(HOSTILE_VALUES)]
        what = "offsets of the wrong type"
    elif choice == 4:
        entry["shape"] = [10**12, 10**12]
        what = "huge shape"
    elif choice == 5:
        entry["shape"] = [-x for x in entry["shape"]] or [-1]
        what = "negative shape"
    elif choice == 6:
        entry["shape"] = rng.choice(HOSTILE_VALUES)
        what = "shape of the wrong type"
    elif choice == 7:
        entry["dtype"] = rng.choice(["F99", 7, None, "I64", "U8", "F64"])
        what = "other dtype"
    elif choice == 8:
        header[name] = rng.choice(HOSTILE_VALUES)
        what = "entry not a map"
    elif choice == 9:
        header["__metadata__"] = rng.choice(HOSTILE_VALUES)
        what = "metadata of the wrong type"
    elif choice == 10:
        _write_header(path, header, body, size_field=rng.choice([2**64 - 1, 2**40, 3, 0]))
        return "header size field wrong"
    elif choice == 11:
        path.write_bytes(path.read_bytes()[: rng.randrange(0, path.stat().st_size)])
        return "file truncated"
    elif choice == 12:
        _write_header(path, rng.choice(HOSTILE_VALUES), body)
        return "header not a map"
    else:
        entry["shape"] = [*reversed(entry["shape"]), 1]
        what = "reshaped (same bytes)"
    _write_header(path, header, body)
    return f"safetensors {name}: {what}"


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "added_tokens.json")


def mutate_tokenizer(folder: Path, rng: random.Random) -> str:
    """A tokenizer file or a shard index, mutated as JSON (or its bytes damaged)."""
    from tests.fuzz.json_mutator import mutate_value, serialize

    present = [n for n in TOKENIZER_FILES if (folder / n).is_file()]
    if rng.random() < 0.2 or not present:
        header, _body = _header(folder / "model.safetensors")
        weight_map = {name: "model.safetensors" for name in header if name != "__metadata__"}
        index, what = mutate_value({"weight_map": weight_map}, rng)
        data, damage = serialize(index, rng)
        (folder / "model.safetensors.index.json").write_bytes(data)
        return f"shard index: {what} {damage}"
    name = rng.choice(present)
    document = json.loads((folder / name).read_text(encoding="utf-8"))
    document, what = mutate_value(document, rng)
    data, damage = serialize(document, rng)
    (folder / name).write_bytes(data)
    return f"{name}: {what} {damage}"


def mutate_special(folder: Path, rng: random.Random) -> str:
    """Something that is not a file where a file belongs."""
    import os

    name = rng.choice(
        ["config.json", "model.safetensors", "tokenizer_config.json", "chat_template.jinja"]
    )
    path = folder / name
    path.unlink(missing_ok=True)
    choice = rng.randrange(6)
    if choice == 0:
        os.mkfifo(path)
        return f"{name}: a named pipe"
    if choice == 1:
        path.symlink_to("/dev/zero")
        return f"{name}: a link to /dev/zero"
    if choice == 2:
        path.symlink_to("/proc/kmsg" if Path("/proc/kmsg").exists() else "/dev/urandom")
        return f"{name}: a link to a kernel file"
    if choice == 3:
        path.symlink_to(folder / f"loop-{name}")
        (folder / f"loop-{name}").symlink_to(path)
        return f"{name}: a link loop"
    if choice == 4:
        path.symlink_to("/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd")
        return f"{name}: a link out of the folder"
    path.mkdir()
    return f"{name}: a folder"


MUTATIONS = (mutate_config, mutate_safetensors, mutate_tokenizer, mutate_special)
WEIGHTS = (0.3, 0.3, 0.3, 0.1)


class _Timeout(BaseException):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Timeout


def run(sources: list[Path], work: Path, seed: int, count: int) -> None:
    from conversion.convert import convert
    from conversion.errors import HuacayaError
    from tests.fuzz.harness import peak_rss_mb

    signal.signal(signal.SIGALRM, _on_alarm)
    rng = random.Random(seed)
    for case in range(-1, count):  # -1: the unmutated checkpoint, the memory baseline
        folder = work / f"case-{case}"
        shutil.copytree(sources[max(case, 0) % len(sources)], folder, symlinks=True)
        what = "unmutated"
        if case >= 0:
            mutate = rng.choices(MUTATIONS, WEIGHTS)[0]
            what = mutate(folder, rng)
        record: dict[str, Any] = {"case": case, "what": what}
        started = time.perf_counter()
        signal.alarm(CASE_SECONDS)
        try:
            convert(folder, work / f"case-{case}.gguf", "f16")
            record["outcome"] = "ok"
        except HuacayaError as exc:
            record.update(outcome="refused", message=exc.message, hint=exc.hint)
        except _Timeout:
            record["outcome"] = "timeout"
        except BaseException as exc:  # what the test exists to catch
            record.update(outcome="traceback", message="".join(traceback.format_exception(exc)))
        finally:
            signal.alarm(0)
        record["seconds"] = time.perf_counter() - started
        record["maxrss_mb"] = peak_rss_mb()  # not ru_maxrss: it includes the parent's, on Linux
        record["leftovers"] = sorted(p.name for p in work.glob(f".case-{case}.gguf*"))
        print(json.dumps(record), flush=True)
        shutil.rmtree(folder)  # a pipe or link is removed like a file (never followed)
        (work / f"case-{case}.gguf").unlink(missing_ok=True)


if __name__ == "__main__":
    limit = 4 << 30  # a safety net for this machine: a runaway allocation fails, not the host
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sources = [Path(p) for p in sys.argv[1].split(os.pathsep)]
    run(sources, Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
