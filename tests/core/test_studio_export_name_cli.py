"""``huacaya-train --export-gguf --name NAME`` typed in a terminal, with NAME already in my models:
refused at once, in one line saying what to do, before the data is read, a base converted or
anything trained — the same check as the "Make your own" window's (``conversion.model_names``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.core.models.library import ModelLibrary

ROOT = Path(__file__).resolve().parents[2]
RECORDS = [
    {"instruction": "Name three primary colours.", "input": "", "output": "Red, blue, yellow."},
    {"instruction": "Give a synonym for happy.", "input": "", "output": "Joyful."},
]


def _huacaya_train(
    arguments: list[str], home: Path, cache: Path
) -> subprocess.CompletedProcess[str]:
    """The installed command, as a person runs it (its entry point is desktop.cli.train)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HUACAYA_HOME": str(home),
        "HUACAYA_CACHE": str(cache),
        "OMP_NUM_THREADS": "2",
    }
    command = [sys.executable, "-m", "desktop.cli.train", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.timeout(900)
def test_a_name_already_in_my_models_is_refused_before_any_training(
    tmp_path: Path, huacaya_home: Path, starter_path: Path
) -> None:
    library = ModelLibrary()
    installed = library.add_file(starter_path, "Cooking assistant")
    before = [(e.id, e.name) for e in library.entries()]
    data = tmp_path / "data.json"
    data.write_text(json.dumps(RECORDS), encoding="utf-8")
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    common = ["--base", "smollm2-135m-instruct", "--data", str(data), "--lora"]
    common += ["--max-steps", "1", "--max-length", "64", "--global-batch", "2"]

    done = _huacaya_train(
        [*common, "--out", str(out), "--export-gguf", "q8_0", "--name", "cooking  ASSISTANT"],
        huacaya_home,
        cache,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    said = done.stderr.strip()
    assert "Traceback" not in done.stderr and len(said.splitlines()) == 1, done.stderr
    assert said == (
        f"huacaya-train: error: A model called “{installed.name}” is already in your models. "
        "Give this one another name with --name, or rename or remove the installed one first "
        "(huacaya models rename / huacaya models remove)."
    )
    assert done.stdout == ""
    assert not out.exists()  # no run folder …
    assert not (cache / "base-checkpoints").exists()  # … no base made from the GGUF …
    assert [(e.id, e.name) for e in library.entries()] == before  # … and no second one

    # Without --name, the --out folder's name is the model's: the same check.
    named_out = tmp_path / "Cooking Assistant"
    done = _huacaya_train([*common, "--out", str(named_out), "--export-gguf"], huacaya_home, cache)
    assert done.returncode == 1 and "A model called “Cooking assistant”" in done.stderr
    assert not named_out.exists()

    # A name that is only spaces is no name.
    done = _huacaya_train(
        [*common, "--out", str(out), "--export-gguf", "q8_0", "--name", "   "], huacaya_home, cache
    )
    assert done.returncode == 1 and "The model needs a name." in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()

    # Another name goes ahead, to the next check (a record without an answer, in the data).
    data.write_text(json.dumps([*RECORDS, {"instruction": "Say hi."}]), encoding="utf-8")
    done = _huacaya_train(
        [*common, "--out", str(out), "--export-gguf", "q8_0", "--name", "Cooking, take two"],
        huacaya_home,
        cache,
    )
    assert done.returncode == 1 and "already in your models" not in done.stderr
    assert "huacaya-train: error:" in done.stderr and "Traceback" not in done.stderr
    assert [(e.id, e.name) for e in library.entries()] == before
