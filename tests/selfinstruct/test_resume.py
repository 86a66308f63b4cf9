"""Interrupted runs (cancel, Ctrl+C, kill -9) continue to exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversion.errors import Cancelled, GenerationStateError
from conversion.progress import CancelToken
from conversion.selfinstruct.journal import journal_path
from conversion.selfinstruct.openai_teacher import OpenAITeacher
from conversion.selfinstruct.runner import GenerationConfig, generate
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds

CONFIG = GenerationConfig(num=30, batch_size=2)


def run(teacher: LoopbackTeacher, out: Path, cancel_after: int | None = None, **kwargs):  # type: ignore[no-untyped-def]
    client = OpenAITeacher("loopback-model", teacher.url, backoff=0.01)
    cancel = CancelToken()
    batches = 0

    def progress(fraction: float, message: str) -> None:
        nonlocal batches
        if "asking" in message:
            batches += 1
            if cancel_after is not None and batches > cancel_after:
                cancel.cancel()

    try:
        return generate(
            SMALL_SEEDS, client, out, CONFIG, progress=progress, cancel=cancel, **kwargs
        )
    finally:
        client.close()


def test_cancelled_then_resumed_equals_uninterrupted(
    teacher: LoopbackTeacher, tmp_path: Path
) -> None:
    run(teacher, tmp_path / "whole.json")
    whole = (tmp_path / "whole.json").read_bytes()
    out = tmp_path / "resumed.json"
    with pytest.raises(Cancelled):
        run(teacher, out, cancel_after=2)
    partial = json.loads(out.read_text())
    assert 0 < len(partial) < 30  # written on the way out, valid JSON
    result = run(teacher, out)
    assert result.resumed_with == len(partial)
    assert out.read_bytes() == whole
    # A torn last journal line (a crash while appending) is dropped and its batch asked again.
    journal = journal_path(out)
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join(lines[:-2]) + b"\n" + lines[-2][:40])
    out.unlink()
    run(teacher, out)
    assert out.read_bytes() == whole
    # The same command on a finished run asks nothing.
    assert run(teacher, out).requests == 0


def test_existing_output_and_force(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    out.write_text("[]", encoding="utf-8")
    with pytest.raises(GenerationStateError, match="has no journal") as caught:
        run(teacher, out)
    assert "--force" in caught.value.hint
    assert run(teacher, out, force=True).records == 30
    journal = journal_path(out)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(GenerationStateError, match=r"Line 2 of the journal .* is damaged"):
        run(teacher, out)


def command(teacher: LoopbackTeacher, seeds: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "conversion.selfinstruct.cli",
        "--seed-tasks", str(seeds), "--out", str(out), "--num", "60", "--batch-size", "2",
        "--teacher", "openai:loopback-model", "--base-url", teacher.url,
    ]  # fmt: skip


def wait_for_batches(out: Path, count: int, process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Until the journal has ``count`` batches, checking that the output is always valid JSON."""
    journal = journal_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists():
            json.loads(out.read_text(encoding="utf-8"))  # never half written
        if journal.exists() and journal.read_text(encoding="utf-8").count("\n") > count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} batches: {process.poll()}")


def test_killed_and_interrupted_command_continues(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    whole = tmp_path / "whole.json"
    subprocess.run(command(teacher, seeds, whole), check=True, env=env, capture_output=True)
    teacher.knobs.delay = 0.15  # slow enough to be caught in the middle
    out = tmp_path / "out.json"
    # kill -9 in the middle of a run …
    process = subprocess.Popen(command(teacher, seeds, out), env=env, stderr=subprocess.PIPE)
    wait_for_batches(out, 3, process)
    process.kill()
    process.wait()
    json.loads(out.read_text(encoding="utf-8"))
    # … then Ctrl+C in the middle of the next …
    process = subprocess.Popen(command(teacher, seeds, out), env=env, stderr=subprocess.PIPE)
    wait_for_batches(out, 6, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert b"interrupted" in err and b"run the same command to continue" in err
    # … and the same command finishes with exactly the records of the uninterrupted run.
    teacher.knobs.delay = 0.0
    finished = subprocess.run(command(teacher, seeds, out), env=env, capture_output=True)
    assert finished.returncode == 0, finished.stderr
    assert b"continuing from" in finished.stdout
    assert out.read_bytes() == whole.read_bytes()
