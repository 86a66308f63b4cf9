"""Refuse a Qt binding that loses references to None and True (PySide6 6.12 on Python < 3.12).

PySide6 6.12.0 returns ``None`` from every Qt call that returns nothing (``QLabel.setText``,
``setEnabled``…) and ``True`` from ``Signal.emit()`` without the reference its caller then gives
back: by all signs its wheels are built with Python 3.12's headers, where those two are
immortal and returned without one (reported upstream as PYSIDE-3474). On Python 3.10 and 3.11
each such call lowers the count by one, and when it reaches zero the interpreter aborts —
"Fatal Python error: none_dealloc" (or "bool_dealloc") — for the window after about 75
answers, or at once on a long chat. From Python 3.12 on, None and True are immortal: no lost
reference can free them, so there is nothing to probe and any binding is safe in this respect.

:func:`probe_binding` makes a few hundred such calls and watches ``sys.getrefcount``. It
gives back exactly the references it saw lost, so a process that was refused the window can
carry on (the terminal chat) and exit cleanly. No Qt application is needed: the calls are on
plain QtCore, QtGui and QtWidgets objects.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# What pyproject.toml allows on Python < 3.12 (tests/packaging/test_binding_pins.py
# keeps them equal).
SAFE_REQUIREMENT = "PySide6-Essentials>=6.6,<6.12"
PROBE_ROUNDS = 300
_BATCH = 50  # calls between looks: a leaking binding is caught long before a count nears zero
_EMIT = "Signal.emit"


@dataclass(frozen=True)
class BindingReport:
    version: str
    void_calls: int  # Qt calls returning nothing that were made
    emits: int  # Signal.emit() calls that were made
    lost_none: int  # references to None that went missing (and were given back)
    lost_true: int
    leaking: tuple[str, ...] = ()  # the calls that lost a reference at least every other time
    immortal: bool = False  # Python >= 3.12: None and True cannot be freed, nothing was probed

    @property
    def leaks(self) -> bool:
        return bool(self.leaking)

    def describe(self) -> str:
        if self.immortal:
            return (
                f"PySide6 {self.version} on Python {_python()}: None and True are immortal, "
                "nothing to check"
            )
        verdict = f"LEAKS in {', '.join(self.leaking)}" if self.leaking else "ok"
        return (
            f"PySide6 {self.version} on Python {_python()}: {self.lost_none} reference(s) to "
            f"None lost in {self.void_calls} void Qt calls, {self.lost_true} to True in "
            f"{self.emits} signal emissions ({verdict})"
        )

    def problem(self) -> str | None:
        """What to tell the user about this binding, or None when it is fine."""
        if not self.leaking:
            return None
        what, fatal = [], "bool_dealloc"
        if any(name != _EMIT for name in self.leaking):
            what.append("to None on every Qt call that returns nothing")
            fatal = "none_dealloc"
        if _EMIT in self.leaking:
            what.append("to True on every signal emission")
        if getattr(sys, "frozen", False):
            fix = "This build of Huacaya is broken: install a release built with another PySide6"
        else:
            fix = (
                "Install a version without the bug: "
                f'{_pip()} install "{SAFE_REQUIREMENT}" (or use Python 3.12 or newer)'
            )
        return (
            f"PySide6 {self.version}, the Qt binding, loses a reference {' and '.join(what)} "
            f"(Qt bug PYSIDE-3474); with Python {_python()} the window would abort "
            f"(“Fatal Python error: {fatal}”) after a few dozen answers. {fix}"
        )


def _python() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def _pip() -> str:
    return f"{sys.executable} -m pip" if sys.executable else "pip"


def _give_back(obj: object, count: int) -> None:
    """Add back ``count`` references to ``obj`` that a broken binding took away.

    Too many is harmless (None and True are never freed anyway), too few is the crash: the
    caller passes exactly what it measured as missing.
    """
    if count <= 0:
        return
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None
    for _ in range(count):
        incref(obj)


def probe_binding(rounds: int = PROBE_ROUNDS) -> BindingReport:
    """Call three void Qt methods (QtCore, QtGui, QtWidgets) and ``Signal.emit`` ``rounds``
    times each, counting the references to None (True for emit) each call loses."""
    import PySide6
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QSizePolicy

    version = PySide6.__version__
    if sys.version_info >= (3, 12):
        return BindingReport(version, 0, 0, 0, 0, immortal=True)

    class _Probe(QObject):
        pinged = Signal()

    probe, color, policy = _Probe(), QColor(), QSizePolicy()
    calls: list[tuple[str, Callable[[], object], object]] = [
        ("QObject.setObjectName", lambda: probe.setObjectName("binding-probe"), None),
        ("QColor.setAlpha", lambda: color.setAlpha(255), None),
        ("QSizePolicy.setHorizontalStretch", lambda: policy.setHorizontalStretch(0), None),
        (_EMIT, probe.pinged.emit, True),  # libpyside's emit returns True
    ]
    lost = dict.fromkeys((name for name, _, _ in calls), 0)
    done = 0
    leaking: list[str] = []
    while done < rounds and not leaking:
        batch = min(_BATCH, rounds - done)
        for name, call, watched in calls:
            before = sys.getrefcount(watched)
            for _ in range(batch):
                call()
            missing = before - sys.getrefcount(watched)
            if missing > 0:
                _give_back(watched, missing)
                lost[name] += missing
        done += batch
        # Half a reference per call: far above what anything else moves the counts by during
        # the probe, far below the one per call a leaking binding loses. Stop at the first
        # batch that shows it, before doing more harm.
        leaking = [name for name in lost if lost[name] * 2 >= done]
    return BindingReport(
        version,
        void_calls=done * (len(calls) - 1),
        emits=done,
        lost_none=sum(n for name, n in lost.items() if name != _EMIT),
        lost_true=lost[_EMIT],
        leaking=tuple(leaking),
    )


def binding_problem() -> str | None:
    """Why this Qt binding must not run the window, or None."""
    report = probe_binding()
    log.info("Qt binding check: %s", report.describe())
    return report.problem()
