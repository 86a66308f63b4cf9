"""What model jobs leave in the data folder: a refused import nothing (its message is all there
is), a failed job that kept nothing is forgotten at the next start, and an import interrupted
while it verified its model continues from the quantized file instead of converting again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.ownership import Owner
from desktop.core.hub.client import HubClient
from desktop.core.jobs import runner as jobs_module
from desktop.core.jobs.runner import JobRunner
from desktop.core.jobs.store import JOB_FILE, JobSpec, JobStore
from desktop.core.models.library import ModelLibrary
from tests.helpers import text_file_named_gguf, truncated_copy

ROOT = Path(__file__).resolve().parents[2]


def huacaya(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUACAYA_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def _checkpoint_with_bad_tokenizer(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 4,
                "num_hidden_layers": 2,
                "vocab_size": 10,
            }
        )
    )
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": ["a", "b"]}}))
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return folder


def test_refused_imports_leave_no_job_behind(
    starter_path: Path, tmp_path: Path, huacaya_home: Path
) -> None:
    sources = [
        truncated_copy(starter_path, tmp_path / "truncated.gguf"),
        text_file_named_gguf(tmp_path / "list.gguf"),
        _checkpoint_with_bad_tokenizer(tmp_path / "checkpoint"),
    ]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.gguf")
        sources.append(tmp_path / "pipe.gguf")
    for source in sources:
        done = huacaya("models", "import", str(source), "--quant", "none", home=huacaya_home)
        assert done.returncode == 1 and "huacaya: error:" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "unexpectedly" not in done.stderr, done.stderr
        jobs = huacaya_home / "data" / "jobs"
        assert not jobs.exists() or list(jobs.iterdir()) == [], source.name
    listed = huacaya("models", "jobs", home=huacaya_home)
    assert listed.stdout.strip() == "No model jobs."


def test_failed_jobs_that_kept_nothing_are_forgotten_at_start(huacaya_home: Path) -> None:
    store = JobStore()
    spent = [store.create(JobSpec("import", f"/models/bad-{i}.gguf")) for i in range(3)]
    kept = store.create(JobSpec("hub", "org/model", gguf_file="m.gguf"))
    for job in [*spent, kept]:
        job.state, job.error, job.owner = "failed", "refused", ""
        store.save(job)
    (store.folder(kept) / "download").mkdir()
    (store.folder(kept) / "download" / "m.gguf.partial").write_bytes(b"x" * 100)
    interrupted = store.create(JobSpec("import", "/models/big"))
    interrupted.state, interrupted.owner = "running", Owner(pid=2**22 + 7, started=1).tag
    store.save(interrupted)

    listed = huacaya("models", "jobs", home=huacaya_home)
    assert listed.returncode == 0, listed.stderr
    remaining = sorted(p.name for p in store.root.iterdir())
    assert remaining == sorted([kept.id, interrupted.id])
    assert kept.id in listed.stdout and interrupted.id in listed.stdout


def test_an_import_killed_while_verifying_does_not_convert_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conversion.architectures import build_checkpoint

    source = build_checkpoint("qwen2", tmp_path / "tiny-qwen")
    store, library = JobStore(), ModelLibrary()
    runner = JobRunner(store, library, HubClient(lambda: None, lambda: True))
    job = store.create(JobSpec("import", str(source), "Tiny", quant="q8_0"))
    real_verify, conversions = jobs_module.verify, []

    class Killed(BaseException):
        """The process dies: nothing after this point runs."""

    def dies(path: Path) -> None:
        raise Killed

    real_convert = jobs_module.convert

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        conversions.append(args[0])
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "convert", counted)
    monkeypatch.setattr(jobs_module, "verify", dies)
    with pytest.raises(Killed):
        runner.run(job)
    assert len(conversions) == 1
    record = store.load(job.id)
    assert (record.state, record.step) == ("running", "verify")
    record.owner = Owner(pid=2**22 + 7, started=1).tag  # its process is gone
    store.save(record)
    assert [j.id for j in store.interrupted()] == [job.id]
    files = sorted(p.name for p in store.folder(job).iterdir() if p.name != JOB_FILE)
    assert files == ["model-q8_0.gguf"]

    monkeypatch.setattr(jobs_module, "verify", real_verify)
    entry = runner.run(store.load(job.id))
    assert len(conversions) == 1, "converted again"
    assert entry.name == "Tiny" and library.path_of(entry).is_file()
