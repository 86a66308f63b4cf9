"""A training run's loss, step by step, drawn with QPainter (PySide6-Essentials has no QtCharts).
Colours come from the palette, so it follows the light and dark themes."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LOSS_COLOUR = QColor("#c0662e")  # readable on light and dark backgrounds


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = int(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-6:
        if value >= low - step * 1e-6:
            ticks.append(round(value, 10))
        value += step
    return ticks


class LossCurve(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossCurve")
        self.setAccessibleName("Loss curve")
        self.points: list[tuple[int, float]] = []
        self.total_steps = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(120)

    def sizeHint(self) -> QSize:
        return QSize(480, 220)

    def set_points(self, points: list[tuple[int, float]], total_steps: int) -> None:
        if points != self.points or total_steps != self.total_steps:
            self.points, self.total_steps = list(points), total_steps
            tip = f"Loss at step {points[-1][0]}: {points[-1][1]:.4f}" if points else ""
            self.setToolTip(tip)
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlpha(60)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        metrics = self.fontMetrics()
        line = metrics.height()
        left = metrics.horizontalAdvance("0.000") + line
        plot = QRectF(left, line * 0.8, self.width() - left - line, self.height() - line * 3.4)
        if plot.width() < 20 or plot.height() < 20:
            return
        if not self.points:
            painter.setPen(text)
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "The loss appears here after the first step.",
            )
            return
        losses = [loss for _, loss in self.points]
        low, high = min(losses), max(losses)
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        margin = (high - low) * 0.08
        low, high = max(low - margin, 0.0), high + margin
        first = 0
        last = max(self.total_steps, self.points[-1][0], 1)

        def at(step: float, loss: float) -> QPointF:
            x = plot.left() + (step - first) / (last - first) * plot.width()
            y = plot.bottom() - (loss - low) / (high - low) * plot.height()
            return QPointF(x, y)

        painter.setPen(QPen(faint, 1))
        for tick in _nice_ticks(low, high):
            y = at(0, tick).y()
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            label = QRectF(0, y - line / 2, left - line * 0.4, line)
            painter.setPen(text)
            painter.drawText(
                label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{tick:g}"
            )
            painter.setPen(QPen(faint, 1))
        painter.setPen(QPen(text, 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        for tick in _nice_ticks(first, last):
            if tick != int(tick):
                continue
            x = at(tick, low).x()
            painter.drawText(
                QRectF(x - line * 2, plot.bottom() + 2, line * 4, line),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                f"{int(tick)}",
            )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + line, plot.width(), line * 1.2),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
            "step",
        )
        path = QPainterPath(at(*self.points[0]))
        for step, loss in self.points[1:]:
            path.lineTo(at(step, loss))
        painter.setPen(QPen(LOSS_COLOUR, 2))
        painter.drawPath(path)
        painter.setBrush(LOSS_COLOUR)
        for step, loss in self.points[-60:]:
            painter.drawEllipse(at(step, loss), 2.5, 2.5)
