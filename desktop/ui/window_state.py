"""Where the main window was: its geometry and the split between the chat list and the chat,
kept in the settings as base64 of Qt's own saved state."""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QSplitter, QWidget

from desktop.core.settings import Settings


def restore(window: QWidget, splitter: QSplitter, settings: Settings) -> None:
    """Put the window and its splitter back as :func:`saved` left them (nothing if never saved;
    Qt ignores a state it cannot read)."""
    if settings.window_geometry:
        window.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
    if settings.splitter_state:
        splitter.restoreState(QByteArray.fromBase64(settings.splitter_state.encode()))


def saved(window: QWidget, splitter: QSplitter) -> dict[str, str]:
    """The settings that keep the window's geometry and the splitter's sizes."""
    return {
        "window_geometry": bytes(window.saveGeometry().toBase64().data()).decode(),
        "splitter_state": bytes(splitter.saveState().toBase64().data()).decode(),
    }
