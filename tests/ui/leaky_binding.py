"""A leaking Qt binding, simulated with the installed one: QColor.setAlpha drops a reference to
None, as every void call of PySide6 6.12.0 does on Python < 3.12 (issue 29). The probe in
desktop/ui/binding_check.py imports QColor when it runs, so patching the module is enough."""

from __future__ import annotations

import ctypes

import pytest
from PySide6 import QtGui


def drop_a_reference(obj: object) -> None:
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes = [ctypes.py_object]
    decref.restype = None
    decref(obj)


class LeakyColor(QtGui.QColor):
    def setAlpha(self, alpha: int) -> None:
        super().setAlpha(alpha)
        drop_a_reference(None)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QtGui, "QColor", LeakyColor)
