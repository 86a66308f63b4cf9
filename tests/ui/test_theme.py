"""Themes switched back and forth in one session (Settings → App → Theme, as often as a person
likes): QApplication deletes the style it had whenever another one is set, so a theme may never
set a style object it set before."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QCheckBox, QStyle

from desktop.ui.theme import apply_theme


def test_dark_after_system_after_dark_draws_with_a_live_style(qtbot) -> None:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    box = QCheckBox("Serve the local API")
    qtbot.addWidget(box)
    box.show()
    for theme in ("dark", "system", "light", "system", "dark"):
        apply_theme(app, theme, 0)
        # a deleted style raises here (or crashes the process)
        assert app.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) > 0
        box.grab()  # and is drawn with
    apply_theme(app, "system", 0)
