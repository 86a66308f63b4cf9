"""Imports that aborted the window (issue 30, item 1): an export whose conversation holds only
system messages, and one of 100,000 messages, imported with the Import button, each in a child
process (import_scenarios.py) so that an abort fails this test with its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.child_scenario import run_scenario

SCENARIOS = Path(__file__).with_name("import_scenarios.py")


@pytest.mark.timeout(300)
def test_a_chat_of_only_system_messages_imports_and_goes_on() -> None:
    run_scenario(SCENARIOS, "test_only_system_messages", timeout_s=240)


@pytest.mark.timeout(600)
def test_a_chat_of_a_hundred_thousand_messages_imports_and_goes_on() -> None:
    run_scenario(SCENARIOS, "test_a_hundred_thousand_messages", timeout_s=480)
