"""Every window fits a 1280×800 screen at font sizes 9 to 20, and shrinks back when the font
does: Models (each tab, and the jobs list with a failed job's Retry and Remove), Settings (each
tab), Collections, About, Keyboard shortcuts, Compare models and its endpoint dialog, Presets,
Export all chats, each opened with its key or menu item. Nothing may lie off-screen or outside its
window, and no button may be squeezed below the width its text needs. (The font is set through
the settings store between rounds: choosing it in Settings is tested in test_settings_dialog.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QComboBox, QDialog, QPushButton, QTabWidget

from desktop.ui.compare.setup import ADD_ENDPOINT
from desktop.ui.main_window import MainWindow
from tests.ui.person import choose_in_combo, click, dialog_named, from_menu, type_into_dialog

FONT_SIZES = range(9, 21)


def key(qtbot, window: MainWindow, sequence: str) -> None:  # type: ignore[no-untyped-def]
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 1000)
    qtbot.keySequence(window, sequence)


OPENERS: dict[str, Callable] = {  # type: ignore[type-arg]
    "modelsDialog": lambda qtbot, w: key(qtbot, w, "Ctrl+M"),
    "settingsDialog": lambda qtbot, w: key(qtbot, w, "Ctrl+,"),
    "documentsDialog": lambda qtbot, w: key(qtbot, w, "Ctrl+Shift+D"),
    "aboutDialog": lambda qtbot, w: from_menu(qtbot, w, "Help", "About Huacaya"),
    "shortcutsDialog": lambda qtbot, w: key(qtbot, w, "Ctrl+/"),
    "compareWindow": lambda qtbot, w: from_menu(qtbot, w, "Models", "Compare models…"),
    "endpointDialog": lambda qtbot, w: open_endpoint_dialog(qtbot, w),
    "presetsDialog": lambda qtbot, w: from_menu(qtbot, w, "Chat", "Presets…"),
    "chatsTransferDialog": lambda qtbot, w: from_menu(qtbot, w, "File", "Export all chats…"),
}


def open_endpoint_dialog(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Compare models, then "OpenAI-compatible endpoint…" as the first side."""
    from_menu(qtbot, window, "Models", "Compare models…")
    compare = dialog_named(qtbot, "compareWindow")
    choose_in_combo(qtbot, compare.findChild(QComboBox, "firstSide"), ADD_ENDPOINT)


def set_font(qtbot, window: MainWindow, size: int) -> None:  # type: ignore[no-untyped-def]
    window.store.update(font_size=size)
    qtbot.wait(30)  # the windows refit once the change has reached every widget


def problems(dialog: QDialog) -> list[str]:
    """What cannot be seen whole: the window beyond its screen, a button beyond its window or
    narrower than its text."""
    found = []
    area = dialog.screen().availableGeometry()
    if not area.contains(dialog.frameGeometry()):
        found.append(f"window {dialog.frameGeometry()} beyond the screen {area}")
    inside = dialog.rect()
    for button in dialog.findChildren(QAbstractButton):
        if not (button.isVisible() and button.text()) or button.visibleRegion().isEmpty():
            continue
        where = QRect(button.mapTo(dialog, QPoint(0, 0)), button.size())
        if not inside.contains(where):
            found.append(f"“{button.text()}” at {where} beyond the window {inside}")
        if button.width() < button.minimumSizeHint().width():
            found.append(f"“{button.text()}” {button.width()} px, needs {button.minimumSizeHint()}")
    return found


def check_every_page(qtbot, dialog: QDialog, font: int) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    tabs = dialog.findChild(QTabWidget)
    pages = range(tabs.count()) if tabs is not None else [None]
    for index in pages:
        if index is not None:
            bar = tabs.tabBar()
            click(bar, bar.tabRect(index).center())
            qtbot.waitUntil(lambda i=index: tabs.currentIndex() == i, timeout=2000)
        found += [f"font {font}, {dialog.objectName()} page {index}: {p}" for p in problems(dialog)]
    return found


@pytest.fixture
def failed_job(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A failed import in the jobs list: its row has Retry and Remove."""
    dialog = window.open_models()
    bar = dialog.tabs.tabBar()
    click(bar, bar.tabRect(3).center())
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    click(dialog.import_tab.import_path)
    qtbot.keyClicks(dialog.import_tab.import_path, str(empty))
    click(dialog.import_tab.findChild(QPushButton, "importButton"))
    type_into_dialog(qtbot, "importNameDialog", "Nothing")
    qtbot.waitUntil(
        lambda: any(r.state == "failed" for r in window.jobs.rows.values()), timeout=60_000
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)


def test_every_window_fits_the_screen_at_every_font_size(
    qtbot, window: MainWindow, failed_job: None
) -> None:
    found: list[str] = []
    for font in FONT_SIZES:
        set_font(qtbot, window, font)
        for name, open_it in OPENERS.items():
            open_it(qtbot, window)
            dialog = dialog_named(qtbot, name)
            found += check_every_page(qtbot, dialog, font)
            qtbot.keyClick(dialog, Qt.Key.Key_Escape)
            qtbot.waitUntil(lambda d=dialog: not d.isVisible(), timeout=2000)
    assert not found, "\n".join(found)


def test_a_window_grown_for_a_large_font_shrinks_back_with_it(
    qtbot, window: MainWindow, failed_job: None
) -> None:
    set_font(qtbot, window, 9)
    key(qtbot, window, "Ctrl+,")
    settings = dialog_named(qtbot, "settingsDialog")
    small = settings.size()
    set_font(qtbot, window, 20)
    qtbot.waitUntil(lambda: settings.width() > small.width() * 1.5, timeout=2000)
    assert not problems(settings)
    set_font(qtbot, window, 9)
    qtbot.waitUntil(lambda: settings.size() == small, timeout=2000)
    qtbot.keyClick(settings, Qt.Key.Key_Escape)

    # The jobs' buttons are made again for the smaller font, never squeezed to slivers.
    set_font(qtbot, window, 16)
    key(qtbot, window, "Ctrl+M")
    models = dialog_named(qtbot, "modelsDialog")
    set_font(qtbot, window, 0)  # the system's
    cell = models.jobs_table.cellWidget(0, 3)
    qtbot.waitUntil(lambda: not problems(models), timeout=2000)
    assert [b.text() for b in cell.findChildren(QPushButton)] == ["Retry", "Remove"]
