"""The Qt application: creates it, shows the main window, shuts the engine down cleanly."""

from __future__ import annotations

import importlib.resources
import logging
import sys

from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop import APP_ID, APP_NAME, __version__

ICON_FILE = "huacaya.svg"

qt_log = logging.getLogger("qt")
_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.DEBUG,
    QtMsgType.QtWarningMsg: logging.INFO,  # platform-plugin chatter, not the user's business
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
    qt_log.log(_QT_LEVELS.get(kind, logging.INFO), "%s", message)


def app_icon() -> QIcon:
    resource = importlib.resources.files("desktop.resources") / ICON_FILE
    with importlib.resources.as_file(resource) as path:
        return QIcon(str(path))


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    qInstallMessageHandler(_qt_message)
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def run_app(model: str = "") -> int:
    from desktop.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow(initial_model=model)
    window.show()
    return app.exec()
