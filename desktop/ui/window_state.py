"""Where the main window was: its geometry and the split between the chat list and the chat,
kept in the settings as base64 of Qt's own saved state."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize
from PySide6.QtWidgets import QSplitter, QWidget

from desktop.core.settings import Settings
from desktop.ui.screen_fit import fit_to_screen

FIRST_SIZE = QSize(1100, 720)  # the window at its first start, where the screen has room


def restore(window: QWidget, splitter: QSplitter, settings: Settings) -> None:
    """Put the window and its splitter back as :func:`saved` left them (Qt ignores a state it
    cannot read, and keeps a restored window on a screen); at the first start, the window opens
    at ``FIRST_SIZE``, or the room its screen has where that is less (a small laptop screen)."""
    if settings.window_geometry:
        window.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
    else:
        fit_to_screen(window, FIRST_SIZE)
    if settings.splitter_state:
        splitter.restoreState(QByteArray.fromBase64(settings.splitter_state.encode()))


def saved(window: QWidget, splitter: QSplitter) -> dict[str, str]:
    """The settings that keep the window's geometry and the splitter's sizes."""
    return {
        "window_geometry": bytes(window.saveGeometry().toBase64().data()).decode(),
        "splitter_state": bytes(splitter.saveState().toBase64().data()).decode(),
    }
