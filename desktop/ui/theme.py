"""Light, dark or the system's look, and the font size, for the whole app, applied at once.

The palette and font are the application's, so every widget follows; the style sheet (which
refers to palette colours) is set again so its colours follow too, and views that bake colours
into HTML (the transcript) re-render on the palette-change event each widget receives.
"""

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

_system: tuple[str, QPalette, QFont] | None = None  # the look before any theme was applied


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
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(palette_for(theme))
    else:
        app.setStyle(QStyleFactory.create(style_name) or QStyleFactory.create("Fusion"))
        app.setPalette(system_palette)
    font = QFont(system_font)
    if font_size > 0:
        font.setPointSize(font_size)
    app.setFont(font)
    app.setStyleSheet(app.styleSheet())  # re-resolve palette(...) in the style sheet now
