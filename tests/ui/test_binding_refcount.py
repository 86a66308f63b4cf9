"""The Qt binding keeps its references (issue 29): thousands of void Qt calls and signal
emissions must not lower the reference counts of None and True.

PySide6 6.12.0 loses one reference to None per call returning nothing (``QLabel.setText``,
``setEnabled``…) and one to True per ``Signal.emit()``; on Python 3.10 and 3.11 the window
then aborts ("Fatal Python error: none_dealloc"). From Python 3.12 on None and True are
immortal: None's count does not move there, and is still checked; True's count drifts around
its immortal value with wheels built with older headers (measured with PySide6 6.8–6.11 on 3.12
and 3.13, harmless by design of PEP 683), so True is checked below 3.12 only.

The calls are made in batches, and a batch gives back the references it saw lost before
failing, so a leaking binding fails these tests without taking the rest of the run down.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6
import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QPushButton

BATCHES = 10
ROUNDS = 250  # per batch; four void calls a round: 10,000 void calls in all
FIX = 'pip install "PySide6-Essentials>=6.6,<6.12" (see pyproject.toml)'


def give_back(obj: object, count: int) -> None:
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None
    for _ in range(count):
        incref(obj)


class Pinger(QObject):
    bare = Signal()
    with_value = Signal(object)


def test_void_qt_calls_keep_their_references_to_none(qapp) -> None:  # type: ignore[no-untyped-def]
    label, button, color, thing = QLabel(), QPushButton(), QColor(), QObject()
    for batch in range(BATCHES):
        before = sys.getrefcount(None)
        for _ in range(ROUNDS):
            label.setText("x")
            button.setEnabled(True)
            color.setAlpha(128)
            thing.setObjectName("x")
        lost = before - sys.getrefcount(None)
        give_back(None, max(lost, 0))
        assert lost < ROUNDS, (
            f"PySide6 {PySide6.__version__} lost {lost} references to None in {4 * ROUNDS} "
            f"void Qt calls (batch {batch + 1}); with Python < 3.12 the window aborts with "
            f"none_dealloc. {FIX}"
        )


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12 on")
def test_signal_emissions_keep_their_references_to_true(qapp) -> None:  # type: ignore[no-untyped-def]
    pinger = Pinger()
    received: list[object] = []
    pinger.with_value.connect(received.append)
    for batch in range(BATCHES):
        before = sys.getrefcount(True)
        for i in range(ROUNDS // 5):  # True has far fewer references than None to lose
            pinger.bare.emit()
            pinger.with_value.emit(i)
        lost = before - sys.getrefcount(True)
        give_back(True, max(lost, 0))
        assert lost < ROUNDS // 5, (
            f"PySide6 {PySide6.__version__} lost {lost} references to True in "
            f"{2 * (ROUNDS // 5)} signal emissions (batch {batch + 1}); with Python < 3.12 the "
            f"window aborts with bool_dealloc. {FIX}"
        )
    assert len(received) == BATCHES * (ROUNDS // 5)
