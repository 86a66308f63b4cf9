"""The Qt application: creates it, shows the main window, shuts the engine down cleanly."""

from __future__ import annotations

import ctypes
import importlib.resources
import logging
import os
import signal
import sys
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from desktop import APP_ID, APP_NAME, __version__
from desktop.ui.binding_check import binding_problem
from desktop.ui.errors import show_error
from desktop.ui.theme import apply_theme

ICON_FILE = "huacaya.svg"
STYLE_FILE = "style.qss"

log = logging.getLogger(__name__)
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


def app_style() -> str:
    return (importlib.resources.files("desktop.resources") / STYLE_FILE).read_text("utf-8")


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
    app.setStyleSheet(app_style())
    return app


def platform_problem() -> str | None:
    """Why the window cannot run here, or None: a Qt binding that would crash it (see
    binding_check), or Qt's X11 plugin without its system libraries."""
    return binding_problem() or _x11_problem()


def _x11_problem() -> str | None:
    """Why Qt's X11 plugin cannot start here, or None.

    Without its system libraries (libxcb-cursor0 and friends) Qt aborts the whole process, so
    the plugin is loaded once by hand first: the loader's message names the missing library.
    """
    if not sys.platform.startswith("linux"):
        return None
    requested = os.environ.get("QT_QPA_PLATFORM", "")
    if requested and not requested.startswith("xcb"):
        return None
    if not requested and os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return None
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return (
            f"Qt cannot open a window on this X11 desktop ({exc}). On Debian or Ubuntu install "
            "the missing libraries with: sudo apt install libxcb-cursor0 libxcb-icccm4 "
            "libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0"
        )
    return None


def _install_excepthook(window: QWidget) -> None:
    """A bug in a slot must not vanish into stderr: log it and show it in the error dialog."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.error("unhandled exception", exc_info=(kind, value, tb))
        show_error(window, value)

    sys.excepthook = hook


def _close_on_ctrl_c(window: QWidget) -> QTimer:
    """Ctrl+C in the terminal closes the window cleanly (the model is freed, nothing leaks).

    Python only runs signal handlers between bytecodes, so a timer lets it in now and then.
    """
    signal.signal(signal.SIGINT, lambda signum, frame: window.close())
    timer = QTimer(window)
    timer.start(250)
    timer.timeout.connect(lambda: None)
    return timer


def run_app(model: str = "") -> int:
    from desktop.core.settings import SettingsStore
    from desktop.ui.main_window import MainWindow

    app = create_application()
    store = SettingsStore()
    apply_theme(app, store.settings.theme, store.settings.font_size)  # before the first paint
    window = MainWindow(initial_model=model, store=store)
    _install_excepthook(window)
    _close_on_ctrl_c(window)
    app.aboutToQuit.connect(window.engine.shutdown)  # also when quit without closing the window
    window.show()
    code = app.exec()
    log.info("exiting with code %d", code)
    return code
