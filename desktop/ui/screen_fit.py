"""Every window fits the screen it opens on, at every font size, and shrinks back when the font
does.

A dialog's layout asks for the room its contents want (long table headers, a row of buttons),
which at a large font can be wider than the screen: a window manager then places it partly
off-screen, and what is off-screen cannot be reached. :func:`fit_to_screen` sizes a window to
what it wants but never beyond the available area of its screen (task bars left out), and keeps
it on that screen; :func:`keep_fitted` does so again whenever the application's font or style
changes, so a window grown for font 20 becomes small again at font 9.

The window's contents must be able to shrink for this to work: tables scroll, long text wraps or
elides, rows of buttons wrap (see :class:`FlowRow` in ``widgets``); the screen-fit test checks
that every dialog's *minimum* size fits a 1280×800 screen at font sizes 9 to 20.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QComboBox, QWidget

FRAME = QSize(16, 48)  # what a window manager adds around a window: borders and title bar


def screen_area(widget: QWidget) -> QRect:
    """The available area (task bars left out) of the screen the widget opens on: its parent's,
    else its own, else the primary screen."""
    anchor = widget.parentWidget() or widget
    screen = anchor.window().screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def room_on_screen(widget: QWidget) -> QSize:
    """The largest client size a window can have and still be seen whole."""
    return screen_area(widget).size() - FRAME


def fit_to_screen(widget: QWidget, wanted: QSize | None = None) -> None:
    """Resize ``widget`` (a window) to ``wanted`` (else its size hint), at least its minimum and
    at most the room on its screen, and move it back onto that screen if it sticks out."""
    room = room_on_screen(widget)
    layout = widget.layout()
    if layout is not None:
        layout.activate()  # the size hints of the current font
    size = wanted if wanted is not None else widget.sizeHint()
    size = size.expandedTo(widget.minimumSizeHint()).boundedTo(room)
    widget.resize(size)
    area = screen_area(widget)
    frame = widget.frameGeometry()
    if widget.isVisible() or widget.testAttribute(Qt.WidgetAttribute.WA_Moved):
        top_left = frame.topLeft()
    else:  # centred over its parent, as window managers place dialogs
        parent = widget.parentWidget()
        centre = parent.window().frameGeometry().center() if parent else area.center()
        top_left = centre - QPoint(size.width() // 2, size.height() // 2)
    x = min(max(top_left.x(), area.left()), area.right() - size.width() - FRAME.width() + 1)
    y = min(max(top_left.y(), area.top()), area.bottom() - size.height() - FRAME.height() + 1)
    widget.move(max(x, area.left()), max(y, area.top()))


class _Refit(QObject):
    """Fits its window again when the font or style changes (the app's font reaches every
    widget as a FontChange event)."""

    def __init__(self, window: QWidget, base: QSize | None) -> None:
        super().__init__(window)
        self.base = base

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() in (
            QEvent.Type.FontChange,
            QEvent.Type.StyleChange,
        ):
            window = self.parent()
            assert isinstance(window, QWidget)
            # After the font's new size hints are known (the change is still being delivered).
            QTimer.singleShot(0, window, lambda: self._refit(window))
        return False

    def _refit(self, window: QWidget) -> None:
        # A QComboBox forgets its cached minimum size on a style change but not on a font
        # change: after the app's style, then its font, changed, it keeps the old font's width
        # (and the window could never shrink back). Tell each one its style is new.
        for combo in window.findChildren(QComboBox):
            QApplication.sendEvent(combo, QEvent(QEvent.Type.StyleChange))
        fit_to_screen(window, self._wanted(window))

    def _wanted(self, window: QWidget) -> QSize:
        hint = window.sizeHint()
        return hint.expandedTo(self.base) if self.base is not None else hint


def keep_fitted(window: QWidget, base: QSize | None = None) -> None:
    """Fit ``window`` now and after every font or style change. ``base``: the size it opens at
    when the screen has room (a table wants more than its size hint says)."""
    refit = _Refit(window, base)
    window.installEventFilter(refit)
    fit_to_screen(window, refit._wanted(window))
