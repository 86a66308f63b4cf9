"""Hostile checkpoints are refused early and clearly: a seeded fuzz over config.json and the
safetensors header, pipes and devices named like weights, and config values of 10^12."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conversion.convert import convert
from conversion.errors import HuacayaError, ImplausibleConfigError, NotARegularFileError

ROOT = Path(__file__).resolve().parents[2]
FUZZ_SEED, FUZZ_CASES = 16, 300
MEMORY_MARGIN_MB = 150  # above the unmutated checkpoint's peak


def test_seeded_fuzz_of_config_and_safetensors_header(
    tiny_llama: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.conversion.architectures import build_checkpoint

    qwen = build_checkpoint("qwen2", tmp_path_factory.mktemp("qwen") / "tiny-qwen")
    work = tmp_path / "fuzz"
    work.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.conversion.hostile_checkpoints",
            os.pathsep.join([str(tiny_llama), str(qwen)]),
            str(work),
            str(FUZZ_SEED),
            str(FUZZ_CASES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(records) == FUZZ_CASES + 1
    baseline, *mutants = records
    assert baseline["outcome"] == "ok"
    outcomes = Counter(r["outcome"] for r in mutants)
    print(f"hostile checkpoints: {dict(outcomes)}")  # the figures for the report
    bad = [r for r in mutants if r["outcome"] not in ("ok", "refused")]
    assert not bad, "\n\n".join(f"{r['what']}: {r['outcome']}\n{r.get('message')}" for r in bad)
    for record in mutants:
        if record["outcome"] == "refused":
            assert record["message"] and record["hint"], record
            assert "Traceback" not in record["message"]
        assert record["leftovers"] == [], record
        assert record["seconds"] < 5, record
    assert outcomes["refused"] > FUZZ_CASES // 2  # the mutations do reach the checks
    peak = max(r["maxrss_mb"] for r in records)
    assert peak < baseline["maxrss_mb"] + MEMORY_MARGIN_MB


class _Hang(Exception):
    pass


@pytest.fixture
def no_hang():  # type: ignore[no-untyped-def]
    """A test that would block forever fails after 20 s instead (SIGALRM, main thread)."""
    import signal

    def on_alarm(signum, frame):  # type: ignore[no-untyped-def]
        raise _Hang("the conversion blocked")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer_config.json"])
def test_a_pipe_named_like_a_checkpoint_file_is_refused_at_once(
    tiny_llama: Path, tmp_path: Path, name: str, no_hang: None
) -> None:
    folder = _copy(tiny_llama, tmp_path / "ckpt")
    (folder / name).unlink()
    os.mkfifo(folder / name)
    started = time.monotonic()
    with pytest.raises(NotARegularFileError, match="named pipe") as caught:
        convert(folder, tmp_path / "out.gguf")
    assert time.monotonic() - started < 2 and caught.value.hint
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_links_are_followed_and_their_targets_checked(
    tiny_llama: Path, tmp_path: Path, no_hang: None
) -> None:
    # Hugging Face's cache: every file a link into a blobs folder. That converts.
    blobs, folder = tmp_path / "blobs", tmp_path / "snapshot"
    shutil.copytree(tiny_llama, blobs)
    folder.mkdir()
    for file in blobs.iterdir():
        (folder / file.name).symlink_to(file)
    convert(folder, tmp_path / "linked.gguf")
    assert (tmp_path / "linked.gguf").stat().st_size > 0
    # A link to a device, or to nothing, is refused at once.
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to("/dev/zero")
    with pytest.raises(NotARegularFileError, match="character device"):
        convert(folder, tmp_path / "zero.gguf")
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(tmp_path / "gone")
    with pytest.raises(NotARegularFileError, match="does not exist"):
        convert(folder, tmp_path / "gone.gguf")


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("num_hidden_layers", 10**12, "no real model"),
        ("vocab_size", 10**12, "no real model"),
        ("num_hidden_layers", 3, "weights hold 2"),  # plausible, but not what the weights hold
        ("vocab_size", 50_000, "rows"),
        ("hidden_size", "64", "whole number"),
        ("num_key_value_heads", 3, "divide"),
    ],
)
def test_config_values_are_checked_before_anything_is_built_from_them(
    tiny_llama: Path, tmp_path: Path, key: str, value: object, says: str
) -> None:
    folder = _copy(tiny_llama, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImplausibleConfigError, match=says) as caught:
        convert(folder, tmp_path / "out.gguf")
    assert isinstance(caught.value, HuacayaError) and caught.value.hint
    assert time.monotonic() - started < 2  # it took 60–90 s and 7.9 GB before
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # kB
