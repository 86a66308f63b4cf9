"""Long sessions in the real window (issue 29): 300 answers asked with the keyboard, and a chat
of 10,000 messages opened with a click.

With PySide6 6.12.0 on Python < 3.12 every void Qt call dropped a reference to None, and the
window aborted with "Fatal Python error: none_dealloc" after about 75 real answers (about 215
of the quick answers used here), or while opening a long chat. An abort ends the process that
runs it, so each session runs in a child pytest process (long_session_scenario.py): an abort
is then this test's failure, with its "Fatal Python error" line, not the end of the test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.child_scenario import run_scenario

SCENARIO = Path(__file__).with_name("long_session_scenario.py")


@pytest.mark.timeout(600)
def test_three_hundred_answers_in_the_window_without_an_abort() -> None:
    run_scenario(SCENARIO, "test_three_hundred_answers", timeout_s=480)


@pytest.mark.timeout(300)  # the transcript renders the chat's latest page (issue 30)
def test_a_ten_thousand_message_chat_opens_without_an_abort() -> None:
    run_scenario(SCENARIO, "test_ten_thousand_message_chat", timeout_s=240)
