"""The same command on two CPU processes (torchrun, gloo, DDP) follows one process with the
same global batch, and a run killed with SIGKILL resumes to the same loss curve."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from conversion.train.data import Record
from conversion.train.run_record import read_metrics
from desktop.core.models.library import ModelLibrary
from tests.train.conftest import huacaya_train, write_records

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
TORCHRUN += ["-m", "conversion.train"]


def _args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        *("--base", str(model), "--data", str(data), "--out", str(out)),
        *("--max-length", "128", "--learning-rate", "1e-3", "--threads", "1"),
        *extra,
    ]


def _finish(process, timeout: float = 300) -> str:  # type: ignore[no-untyped-def]
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def records(short_seed_records: list[Record]) -> list[Record]:
    return short_seed_records[:32]


def test_two_processes_follow_one_with_the_same_global_batch(
    tiny_model: Path, records: list[Record], tmp_path: Path
) -> None:
    data = write_records(tmp_path / "seed.jsonl", records)
    batch = ("--global-batch", "8", "--per-device-batch", "2", "--max-steps", "4")
    one = huacaya_train(*_args(tiny_model, data, tmp_path / "one", *batch))
    _finish(one)
    two = huacaya_train(*_args(tiny_model, data, tmp_path / "two", *batch), launcher=[*TORCHRUN])
    _finish(two)
    for out, world in ((tmp_path / "one", 1), (tmp_path / "two", 2)):
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["world_size"] == world
        # each process takes its share of a step at once, in token-sized micro-batches
        assert manifest["batches"]["examples_per_batch"] == 8 // world
        assert manifest["gradient_accumulation_steps"] == 1
    single = read_metrics(tmp_path / "one" / "metrics.csv")
    double = read_metrics(tmp_path / "two" / "metrics.csv")
    assert [r.step for r in single] == [r.step for r in double] == [1, 2, 3, 4]
    assert [r.loss for r in double] == pytest.approx([r.loss for r in single], abs=1e-4)
    assert [r.learning_rate for r in double] == pytest.approx([r.learning_rate for r in single])
    assert single[-1].loss < single[0].loss


def test_a_killed_run_resumes_from_its_last_checkpoint_with_the_same_curve(
    tiny_model: Path, records: list[Record], tmp_path: Path
) -> None:
    data = write_records(tmp_path / "seed.jsonl", records)
    steps = ("--global-batch", "4", "--per-device-batch", "2", "--max-steps", "40")
    options = (*steps, "--save-steps", "4", "--save-total-limit", "2")
    _finish(huacaya_train(*_args(tiny_model, data, tmp_path / "whole", *options)))
    whole = read_metrics(tmp_path / "whole" / "metrics.csv")

    out = tmp_path / "killed"
    process = huacaya_train(*_args(tiny_model, data, out, *options))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        rows = read_metrics(out / "metrics.csv")
        if rows and rows[-1].step >= 10:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "model").exists()
    before = read_metrics(out / "metrics.csv")
    killed_at = before[-1].step
    assert 10 <= killed_at < 40

    output = _finish(huacaya_train(*_args(tiny_model, data, out, *options)))  # the same command
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    start = manifest["resumed_from_step"]
    assert 8 <= start <= killed_at and manifest["status"] == "finished"
    assert f"step {start}/40 · starting" in output  # it went on from there, not from 0
    resumed = read_metrics(out / "metrics.csv")
    assert resumed[:start] == before[:start]  # those steps were not trained again
    assert [r.step for r in resumed] == [r.step for r in whole] == list(range(1, 41))
    assert [r.loss for r in resumed] == pytest.approx([r.loss for r in whole], abs=1e-5)
    assert [r.learning_rate for r in resumed] == pytest.approx([r.learning_rate for r in whole])

    again = huacaya_train(*_args(tiny_model, data, out, *options))
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 1 and "already finished" in output
    assert read_metrics(out / "metrics.csv") == resumed  # untouched

    # the same command with --export-gguf only exports: into the app's library
    export = ("--export-gguf", "f16", "--name", "Tiny resumed")
    output = _finish(huacaya_train(*_args(tiny_model, data, out, *options, *export)))
    assert "Already trained: 40 steps" in output and "Installed “Tiny resumed”" in output
    model_id = ModelLibrary().get("Tiny resumed").id
    assert f"huacaya eval vote {model_id} " in output  # how to compare it with its base
    assert ModelLibrary().get("Tiny resumed").quantization.upper() == "F16"
