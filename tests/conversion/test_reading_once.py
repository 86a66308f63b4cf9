"""The converter reads each JSON file of a checkpoint once, through ``Checkpoint`` (bounded,
regular files only), however many of its modules use it."""

from __future__ import annotations

import io
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from conversion.convert import convert
from tests.conversion.architectures import build_checkpoint


def _reader() -> str:
    """The module of ours (or gguf's) that asked for the file being opened."""
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(("conversion", "gguf")):
            return module
        frame = frame.f_back
    return ""


@pytest.mark.parametrize("kind", ["qwen2", "phi3"])  # tokenizer.json; tokenizer.model + JSONs
def test_the_converter_reads_each_json_file_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = build_checkpoint(kind, tmp_path / kind)
    opened: Counter[str] = Counter()
    real_os_open, real_io_open = os.open, io.open

    def note(path: object) -> None:
        name = Path(os.fsdecode(path)).name if isinstance(path, (str, bytes, Path)) else ""
        reader = _reader()
        # gguf.SpecialVocab reads the tokenizer files itself (conversion/checkpoint.py says why)
        if name.endswith(".json") and reader.startswith("conversion"):
            opened[name] += 1

    def os_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        note(path)
        return real_os_open(path, *args, **kwargs)

    def io_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        note(file)
        return real_io_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)
    convert(folder, tmp_path / "out.gguf")
    read = {"config.json", "tokenizer_config.json"}  # (generation_config.json is not read)
    read |= {"tokenizer.json"} if kind == "qwen2" else {"added_tokens.json"}
    assert read <= {p.name for p in folder.iterdir()}
    assert opened == dict.fromkeys(read, 1)
