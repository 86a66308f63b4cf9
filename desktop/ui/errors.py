"""The one dialog that shows an error to the user: what went wrong, and what to do."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from conversion.errors import HuacayaError

log = logging.getLogger(__name__)


def as_user_error(exc: BaseException) -> HuacayaError:
    """Our errors pass through; anything else becomes an 'unexpected error' with its text."""
    if isinstance(exc, HuacayaError):
        return exc
    log.error("unexpected error", exc_info=exc)
    return HuacayaError(
        f"Something unexpected went wrong: {exc}",
        "The details are in the log file; please include it if you report this.",
    )


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Huacaya") -> QMessageBox:
    """Show ``exc`` in a window-modal box without blocking the caller (``open``, not ``exec``)."""
    error = as_user_error(exc)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(error.message)
    if error.hint:
        box.setInformativeText(error.hint)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
