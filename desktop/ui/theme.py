"""Light, dark or the system's look, and the font size, for the whole app."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

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

_system_font: QFont | None = None


def apply_theme(app: QApplication, theme: str, font_size: int = 0) -> None:
    """``theme``: "system", "light" or "dark"; ``font_size`` in points, 0 for the system's."""
    global _system_font
    if _system_font is None:
        _system_font = QFont(app.font())
    if theme in ("light", "dark"):
        app.setStyle(QStyleFactory.create("Fusion"))
        palette = QPalette()
        for role, color in (_DARK if theme == "dark" else _LIGHT).items():
            palette.setColor(role, QColor(color))
        app.setPalette(palette)
    else:
        app.setPalette(app.style().standardPalette())
    font = QFont(_system_font)
    if font_size > 0:
        font.setPointSize(font_size)
    app.setFont(font)
