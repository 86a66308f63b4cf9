"""The context meter under the transcript: "1,234 / 8,192 tokens", and when the next question
would push earlier messages out of the model's view, "· 2 earlier messages will be left out" in
a warning colour.

It counts what the engine would be given if the draft were sent now
(``desktop.core.chat.context_meter``), with the loaded model's tokenizer, on the engine's own
thread (``EngineController.measure``): typing never waits for it. A pause in typing
(:data:`TYPING_PAUSE_MS`) starts a count, as do a finished answer, another chat, new settings or
another model; while the engine answers, the latest draft waits. With no model loaded it hides.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from desktop.core.chat.context_meter import ContextUse, Draft
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.composer import Composer

TYPING_PAUSE_MS = 250
# Amber that reads as a warning and keeps a 4.5:1 contrast with each theme's window colour.
WARNING_ON_LIGHT, WARNING_ON_DARK = "#8a5a00", "#f0b429"


class ContextMeter(QLabel):
    """Its text shortens where the room is short (a small window at a large font): the long
    form, else the short one ("474 / 512 · 2 out next"), else that cut with "…"; the whole
    story is its tooltip."""

    def __init__(
        self,
        composer: Composer,
        engine: EngineController,
        draft: Callable[[str], Draft],
        model_loaded: Callable[[], bool],
        parent: QWidget | None = None,
    ) -> None:
        """``draft(text)``: the open chat with ``text`` asked next (``ChatSession.draft``)."""
        super().__init__(parent)
        self.setObjectName("contextMeter")
        self.setAccessibleName("Context meter")
        self.composer = composer
        self.engine = engine
        self.draft = draft
        self.model_loaded = model_loaded
        self.use: ContextUse | None = None  # the latest count shown
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TYPING_PAUSE_MS)
        self._timer.timeout.connect(self.count_now)
        composer.textChanged.connect(self._timer.start)
        engine.measured.connect(self._show)
        self.hide()

    def recount(self) -> None:
        """Count again after a pause (the chat, its settings or the model changed)."""
        self._timer.start()

    def count_now(self) -> None:
        self._timer.stop()
        if not self.model_loaded():
            self._show(None)
            return
        self.engine.measure(self.draft(self.composer.toPlainText()))

    def _show(self, use: object) -> None:
        if not isinstance(use, ContextUse) or not self.model_loaded():
            self.use = None
            self.hide()
            return
        self.use = use
        self.setText(use.text)
        self.setToolTip(use.explanation)
        self.setAccessibleDescription(use.explanation)
        self._paint()
        self.show()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self.fontMetrics().horizontalAdvance("…") * 4, hint.height())

    def sizeHint(self) -> QSize:
        return QSize(
            self.fontMetrics().horizontalAdvance(self.text()) + 4, super().sizeHint().height()
        )

    def paintEvent(self, _event: QPaintEvent) -> None:
        rect = self.contentsRect()
        metrics = self.fontMetrics()
        shown = self.text()
        if self.use is not None and metrics.horizontalAdvance(shown) > rect.width():
            shown = self.use.short_text
        shown = metrics.elidedText(shown, Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, int(align), shown)

    def _paint(self) -> None:
        # the application's palette: this label's own follows its style sheet, not the theme
        dark = QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
        warning = WARNING_ON_DARK if dark else WARNING_ON_LIGHT
        style = f"color: {warning}; font-weight: bold;" if self.use and self.use.warning else ""
        if self.styleSheet() != style:
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.StyleChange,
        ):
            # Once the theme is applied: a style sheet set while Qt delivers the change of
            # style is overridden by it.
            QTimer.singleShot(0, self, self._paint)
