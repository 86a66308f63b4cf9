"""Teachers by size: the catalogue marks them, and data generation with the 135M starter as
teacher says plainly what to expect and names a better teacher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.core.models.catalog import load_catalog, teacher_grade
from desktop.core.models.library import MANIFEST, ModelLibrary, resolve_model
from desktop.core.models.teachers import teacher_advice

ROOT = Path(__file__).resolve().parents[2]
SEED_TASKS = ROOT.parent / "shared" / "alpaca" / "seed_tasks.jsonl"


def test_the_catalogue_marks_teachers_by_size() -> None:
    catalog = load_catalog()
    assert all(e.params_b > 0 for e in catalog)
    grades = {e.id: e.teacher_grade for e in catalog}
    assert grades["qwen2.5-3b-instruct"] == grades["mistral-7b-instruct-v0.3"] == "good"
    assert grades["smollm2-1.7b-instruct"] == "fair"
    assert grades["smollm2-360m-instruct"] == grades["qwen2.5-0.5b-instruct"] == "poor"
    assert (teacher_grade(134_515_008), teacher_grade(0)) == ("poor", "")


def test_the_starter_as_teacher_says_what_to_expect_and_suggests_a_download() -> None:
    library = ModelLibrary()
    starter = resolve_model("smollm2-135m-instruct", library)
    advice = teacher_advice(starter, library, offline=False)
    first, *rest = advice.splitlines()
    assert first.startswith("SmolLM2 135M Instruct (starter) has 135M parameters")
    assert "not for data to train on" in first
    download = next(line for line in rest if "huacaya models pull" in line)
    suggested = download.rsplit(" ", 1)[-1]
    entry = next(e for e in load_catalog() if e.id == suggested)
    assert entry.teacher_grade == "good" and download.startswith("Download ")
    offline = teacher_advice(starter, library, offline=True)
    assert "Once you are online, download" in offline


def test_an_installed_better_teacher_is_named_first(tmp_path: Path, starter_path: Path) -> None:
    library = ModelLibrary()
    copy = tmp_path / "big.gguf"
    copy.write_bytes(starter_path.read_bytes())
    big = library.add_file(copy, name="A big teacher")
    manifest = library.root / big.id / MANIFEST  # as if it had 7B parameters
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "parameter_count": 7_000_000_000}), encoding="utf-8")

    advice = teacher_advice(resolve_model("smollm2-135m-instruct", library), library, False)
    assert (
        f"Installed and better: A big teacher (7.0B, a good teacher): --teacher gguf:{big.id}"
        in advice
    )
    assert "huacaya models pull" not in advice  # nothing to download: a good one is here
    assert teacher_advice(copy, library, False) == ""  # the big one itself needs no advice


def test_the_data_command_prints_the_advice_before_it_starts(tmp_path: Path) -> None:
    if not SEED_TASKS.is_file():
        pytest.skip("Stanford's seed tasks are not beside this checkout")
    command = [sys.executable, "-m", "desktop.cli.generate", "--seed-tasks", str(SEED_TASKS)]
    command += ["--out", str(tmp_path / "data.json"), "--teacher", "gguf:smollm2-135m-instruct"]
    command += ["--num", "1", "--max-requests", "0"]  # loads the teacher, asks nothing
    done = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "note: SmolLM2 135M Instruct (starter) has 135M parameters" in done.stderr
    assert "huacaya models pull" in done.stderr
    assert done.stderr.index("note:") < done.stderr.index("Loading the teacher")
