"""Long sessions in the real window (issue 29): 300 answers asked with the keyboard, and a chat
of 10,000 messages opened with a click.

With PySide6 6.12.0 on Python < 3.12 every void Qt call dropped a reference to None, and the
window aborted with "Fatal Python error: none_dealloc" after about 75 real answers (about 215
of the quick answers used here), or while opening a long chat. An abort ends the process that
runs it, so each session runs in a child pytest process (long_session_scenario.py): an abort
is then this test's failure, with its "Fatal Python error" line, not the end of the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("long_session_scenario.py")


def run_scenario(name: str, timeout_s: int) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-s",  # no capture: an abort's "Fatal Python error" goes straight to the pipe
        f"--timeout={timeout_s}",
        f"{SCENARIO.relative_to(ROOT)}::{name}",
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


@pytest.mark.timeout(600)
def test_three_hundred_answers_in_the_window_without_an_abort() -> None:
    run_scenario("test_three_hundred_answers", timeout_s=480)


@pytest.mark.slow  # the transcript renders all 10,000 messages at once: minutes, not seconds
@pytest.mark.timeout(1800)
def test_a_ten_thousand_message_chat_opens_without_an_abort() -> None:
    run_scenario("test_ten_thousand_message_chat", timeout_s=1500)
