"""The Qt binding a release may carry (issue 29): what pyproject.toml lets pip install on each
Python we support, what the app tells users to install, and what packaging/build.py accepts
before it builds anything."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from desktop.ui.binding_check import SAFE_REQUIREMENT
from tests.packaging.build_module import build
from tests.ui import leaky_binding

ROOT = Path(__file__).resolve().parents[2]
THIS_PYTHON = ".".join(map(str, sys.version_info[:2]))


def applying(python: str) -> Requirement:
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    found = [Requirement(line) for line in build.binding_requirements(ROOT)]
    found = [r for r in found if r.marker is None or r.marker.evaluate(environment)]
    assert len(found) == 1, f"{len(found)} PySide6 requirements apply on Python {python}"
    return found[0]


def allowed(version: str, python: str) -> bool:
    return applying(python).specifier.contains(version, prereleases=False)


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_where_none_is_mortal_the_leaking_release_is_kept_out(python: str) -> None:
    assert not allowed("6.12.0", python)
    assert not allowed("6.12.1", python)  # the whole 6.12 line is built the same way
    for good in ("6.6.0", "6.8.3", "6.9.3", "6.10.3", "6.11.0", "6.11.3"):
        assert allowed(good, python), good


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_where_none_is_immortal_6_12_is_allowed_but_no_untested_minor(python: str) -> None:
    assert allowed("6.11.3", python) and allowed("6.12.0", python)
    assert not allowed("6.13.0", python)


def test_the_fix_the_app_names_is_the_pin() -> None:
    assert Requirement(SAFE_REQUIREMENT).specifier == applying("3.11").specifier


def test_the_installed_binding_is_one_the_pin_allows() -> None:
    installed = metadata.version("PySide6-Essentials")
    assert allowed(installed, THIS_PYTHON), (
        f"PySide6-Essentials {installed} is installed; pyproject.toml does not allow it on "
        f"Python {THIS_PYTHON}"
    )
    assert build.pin_problem(ROOT) is None


def test_the_build_refuses_a_version_the_pin_does_not_allow() -> None:
    problem = build.pin_problem(ROOT, installed="6.13.0")
    assert problem is not None
    assert "PySide6-Essentials 6.13.0 is installed" in problem and THIS_PYTHON in problem
    assert str(applying(THIS_PYTHON).specifier) in problem


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_the_build_refuses_a_binding_that_loses_references(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky_binding.install(monkeypatch)
    with pytest.raises(SystemExit) as refused:
        build.check_binding()
    assert "refusing to build" in str(refused.value) and "PYSIDE-3474" in str(refused.value)
    assert "LEAKS in QColor.setAlpha" in capsys.readouterr().out


def test_the_build_checks_the_binding_it_would_bundle() -> None:
    """``build.py --check`` on this environment: what a release build does first."""
    result = subprocess.run(
        [sys.executable, "packaging/build.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== Qt binding" in result.stdout
    assert f"PySide6 {metadata.version('PySide6-Essentials')} on Python" in result.stdout
    assert "(ok)" in result.stdout or "immortal" in result.stdout
