"""Running a scenario of the real window in a child pytest process, so that an abort (a fatal
Python error, a Qt assertion, SIGABRT) is the failure of the test that asked for it, with its
"Fatal Python error" line, not the end of the whole test run. The scenario files are collected
only when they are named on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_scenario(scenario: Path, name: str, timeout_s: int) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-s",  # no capture: an abort's "Fatal Python error" goes straight to the pipe
        f"--timeout={timeout_s}",
        f"{scenario.relative_to(ROOT)}::{name}",
    ]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s + 60
    )
    output = result.stdout + result.stderr
    fatal = [line for line in output.splitlines() if line.startswith("Fatal Python error")]
    assert not fatal, f"the window aborted: {fatal[0]}\n{output[-3000:]}"
    assert result.returncode == 0, f"exit status {result.returncode}\n{output[-3000:]}"
    assert "1 passed" in result.stdout, output[-3000:]
