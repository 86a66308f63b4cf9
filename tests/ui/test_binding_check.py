"""The start-up check against a Qt binding that loses references (desktop/ui/binding_check.py).

With a leaking binding (simulated: tests/ui/leaky_binding.py) the probe must see it, name the
problem and the fix, give back what it saw lost, and ``huacaya`` must then start the terminal
chat instead of the window.
"""

from __future__ import annotations

import argparse
import sys

import pytest

from desktop.cli import chat
from desktop.cli import main as command_line
from desktop.ui import app
from desktop.ui.binding_check import SAFE_REQUIREMENT, probe_binding
from tests.ui import leaky_binding as leaky

needs_mortal_none = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on: nothing to probe"
)


@pytest.fixture
def leaky_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    leaky.install(monkeypatch)


@needs_mortal_none
def test_the_probe_finds_a_leak_names_the_fix_and_gives_the_references_back(
    leaky_binding: None,
) -> None:
    before = sys.getrefcount(None)
    report = probe_binding()
    assert report.leaking == ("QColor.setAlpha",) and not report.immortal
    assert report.emits == 50  # it stopped after its first look
    assert 45 <= report.lost_none <= 50  # one per setAlpha (the first may find caches to fill)
    assert report.lost_true == 0
    assert sys.getrefcount(None) >= before  # what went missing was given back
    problem = report.problem()
    assert problem is not None
    for words in ("to None on every Qt call that returns nothing", "PYSIDE-3474", "none_dealloc"):
        assert words in problem
    assert f'install "{SAFE_REQUIREMENT}"' in problem
    assert "signal emission" not in problem  # only what was measured is reported


@needs_mortal_none
def test_the_probe_passes_the_installed_binding_when_it_keeps_its_references() -> None:
    # The installed binding is checked by test_binding_refcount.py; here, only that the probe
    # agrees with it and costs nothing when all is well.
    report = probe_binding()
    assert not report.immortal
    assert report.void_calls >= 900 and report.emits >= 300
    assert report.problem() is None, report.describe()
    assert "ok" in report.describe()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="None and True are mortal before 3.12")
def test_nothing_is_probed_where_none_and_true_are_immortal(leaky_binding: None) -> None:
    report = probe_binding()
    assert report.immortal and not report.leaks and report.problem() is None
    assert "immortal" in report.describe()


@needs_mortal_none
def test_huacaya_refuses_the_window_and_starts_the_terminal_chat_instead(
    leaky_binding: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[argparse.Namespace] = []
    # the terminal chat itself is tested in tests/core; here, only that it is what starts
    monkeypatch.setattr(chat, "run", lambda args: started.append(args) or 0)
    monkeypatch.setattr(app, "run_app", lambda model: pytest.fail("the window was opened"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert command_line.main(["gui", "--model", "starter"]) == 0
    said = capsys.readouterr().err
    assert "PySide6" in said and "PYSIDE-3474" in said and SAFE_REQUIREMENT in said
    assert "starting the terminal chat instead" in said
    assert [(a.command, a.model) for a in started] == [("chat", "starter")]
