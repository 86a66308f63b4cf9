"""Light, dark or the system's look, and the font size, for the whole app, applied at once.

The palette and font are the application's, so every widget follows; the style sheet (which
refers to palette colours) is set again so its colours follow too, and views that bake colours
into HTML (the transcript) re-render on the palette-change event each widget receives.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QWidget,
)

_DARK = {
    QPalette.ColorRole.Window: "#202327",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#17191c",
    QPalette.ColorRole.AlternateBase: "#202327",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#2b2f35",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.Highlight: "#3d7bd9",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#2b2f35",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#8b949e",
    QPalette.ColorRole.Link: "#6cb2ff",
    QPalette.ColorRole.Mid: "#3a404a",
    QPalette.ColorRole.Midlight: "#30343a",
}
_LIGHT = {
    QPalette.ColorRole.Window: "#f3f4f6",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f6f8fa",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.Button: "#f6f8fa",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.Highlight: "#2f6fd0",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#6e7781",
    QPalette.ColorRole.Link: "#0b61c4",
    QPalette.ColorRole.Mid: "#d0d7de",
    QPalette.ColorRole.Midlight: "#e5e8eb",
}

_system: tuple[str, QPalette, QFont] | None = None  # the look before any theme was applied
_style: QProxyStyle | None = None  # the themes' style now (the application owns it)


_INDICATORS = (
    QStyle.PixelMetric.PM_IndicatorWidth,
    QStyle.PixelMetric.PM_IndicatorHeight,
    QStyle.PixelMetric.PM_ExclusiveIndicatorWidth,
    QStyle.PixelMetric.PM_ExclusiveIndicatorHeight,
)


class _VisibleIndicators(QProxyStyle):
    """Fusion with check boxes and radio buttons one can see in both themes, at any font size.

    Fusion draws their frame in the window colour darkened, which on the dark theme's base is
    nearly black on black (and faint on white): the frame is drawn again here in the palette's
    placeholder-text colour, which contrasts 3:1 or more with the base in both themes. Check
    boxes in menus and lists are drawn through the same primitive, so they follow."""

    def pixelMetric(
        self,
        metric: QStyle.PixelMetric,
        option: QStyleOption | None = None,
        widget: QWidget | None = None,
    ) -> int:
        size = super().pixelMetric(metric, option, widget)
        if metric in _INDICATORS:  # grows with the font (Fusion's stays 14 px at any size)
            font = widget.font() if widget is not None else QApplication.font()
            return max(size, round(QFontMetrics(font).height() * 0.7))
        return size

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        box = element == QStyle.PrimitiveElement.PE_IndicatorCheckBox
        if not box and element != QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            return
        focused = QStyle.StateFlag.State_HasFocus | QStyle.StateFlag.State_KeyboardFocusChange
        if (option.state & focused) == focused:
            return  # Fusion's focus frame (the highlight colour) says more
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(QColor(0, 0, 0, 0))
        painter.setPen(QPen(option.palette.color(QPalette.ColorRole.PlaceholderText), 1))
        painter.translate(0.5, 0.5)
        rect = option.rect.adjusted(0, 0, -1, -1)
        if box:
            painter.drawRect(rect)
        else:
            painter.drawEllipse(rect.adjusted(1, 1, -1, -1))
        painter.restore()


def palette_for(theme: str) -> QPalette:
    palette = QPalette()
    colors = _DARK if theme == "dark" else _LIGHT
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for role, color in colors.items():
            palette.setColor(group, role, QColor(color))
    for role, color in colors.items():  # disabled widgets: the same colours, text dimmed
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(
            QPalette.ColorGroup.Disabled, role, QColor(colors[QPalette.ColorRole.PlaceholderText])
        )
    return palette


def apply_theme(app: QApplication, theme: str, font_size: int = 0) -> None:
    """``theme``: "system", "light" or "dark"; ``font_size`` in points, 0 for the system's."""
    global _system
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()), QFont(app.font()))
    style_name, system_palette, system_font = _system
    if theme in ("light", "dark"):
        global _style
        # a new one each time: QApplication deletes the style it had when another is set, so a
        # kept one is a dangling object after a switch to the system theme and back
        _style = _VisibleIndicators(QStyleFactory.create("Fusion"))
        app.setStyle(_style)
        app.setPalette(palette_for(theme))
    else:
        app.setStyle(QStyleFactory.create(style_name) or QStyleFactory.create("Fusion"))
        app.setPalette(system_palette)
    font = QFont(system_font)
    if font_size > 0:
        font.setPointSize(font_size)
    app.setFont(font)
    app.setStyleSheet(app.styleSheet())  # re-resolve palette(...) in the style sheet now
