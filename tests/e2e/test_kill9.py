"""kill -9 on every write path, run as a user runs the commands: no orphan process, nothing
left behind after the next start, no corrupt file under a real name, the interrupted job shown
and resumed (more tries, with figures: ``benchmarks/kill9.py``)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.kill9_scenarios import (
    CONVERT_MOMENTS,
    IMPORT_MOMENTS,
    Tally,
    convert_try,
    import_try,
    window_try,
)
from benchmarks.killing import ROOT, command


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
def test_huacaya_convert_killed_while_converting_and_quantizing(
    smollm_checkpoint: Path, tmp_path: Path
) -> None:
    tally = Tally()
    for when in CONVERT_MOMENTS:
        killed = convert_try(smollm_checkpoint, tmp_path, when, tally)
        assert killed.reached and killed.exit_code is None  # it was killed, mid-way
    print(f"huacaya-convert: {tally}")
    assert tally.clean == tally.tries, tally.problems


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
def test_models_import_killed_at_each_step_is_shown_interrupted_and_resumes(
    smollm_checkpoint: Path, huacaya_home: Path
) -> None:
    tally = Tally()
    for when in IMPORT_MOMENTS:
        killed = import_try(smollm_checkpoint, huacaya_home, when, tally)
        assert killed.reached and killed.exit_code is None
    print(f"huacaya models import: {tally}")
    assert tally.clean == tally.tries, tally.problems


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
def test_the_windows_job_process_dies_with_the_window(
    smollm_checkpoint: Path, huacaya_home: Path
) -> None:
    tally = Tally()
    killed = window_try(smollm_checkpoint, huacaya_home, tally)
    assert killed.reached and killed.exit_code is None
    print(f"window job: {tally}")
    assert tally.clean == tally.tries, tally.problems


def test_two_imports_of_the_same_source_at_once_one_works_the_other_is_refused(
    smollm_checkpoint: Path, huacaya_home: Path
) -> None:
    env = {**os.environ, "HUACAYA_HOME": str(huacaya_home)}
    args = command("huacaya", "models", "import", str(smollm_checkpoint), "--quant", "none")
    first = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        locks = huacaya_home / "data" / "locks"
        for _ in range(600):  # until the first holds the source (at most a minute)
            if first.poll() is not None or (locks.is_dir() and any(locks.iterdir())):
                break
            time.sleep(0.1)
        second = subprocess.run(
            args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert first.poll() is None, "the first import ended before the second started"
        assert second.returncode == 1
        assert (
            f"Importing “{smollm_checkpoint.name}” is already in progress (process {first.pid}"
            in second.stderr
        )
        assert "Traceback" not in second.stderr
        assert len(list((huacaya_home / "data" / "jobs").iterdir())) == 1  # only the first's
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "Installed" in out
