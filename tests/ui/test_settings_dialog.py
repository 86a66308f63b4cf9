"""The settings dialog's sampling boxes keep to exactly the app's ranges (``SAMPLING``): a person
can type each bound, and an arrow key at a bound goes no further."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel

from desktop.core.settings import SAMPLING, SamplingOption
from desktop.ui.main_window import MainWindow
from tests.ui.person import click, dialog_named, from_menu


def typed(option: SamplingOption, value: float) -> str:
    return f"{value:.{option.decimals}f}"


def set_every_option(qtbot, window: MainWindow, bound: str, key: Qt.Key) -> None:  # type: ignore[no-untyped-def]
    """Open Settings, type each option's ``bound`` ("low" or "high") into its box, press ``key``
    (towards the outside of the range) there, and press OK."""
    from_menu(qtbot, window, "Edit", "Settings…")
    dialog = dialog_named(qtbot, "settingsDialog")
    for name, option in SAMPLING.items():
        box = dialog.sampling[name]
        form = box.parentWidget().layout()
        assert isinstance(form, QFormLayout)
        label = form.labelForField(box)
        assert isinstance(label, QLabel) and label.text() == option.label  # what a person reads
        assert box.toolTip() == option.help
        click(box)
        qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(box, typed(option, getattr(option, bound)))
        assert box.value() == getattr(option, bound), f"{name}: {box.text()}"
        qtbot.keyClick(box, key)
        assert box.value() == getattr(option, bound), f"{name} went past {bound}: {box.text()}"
    click(dialog.ok_button)


def test_each_sampling_box_stops_exactly_at_the_apps_bounds(qtbot, window: MainWindow) -> None:
    for bound, outwards in (("high", Qt.Key.Key_Up), ("low", Qt.Key.Key_Down)):
        set_every_option(qtbot, window, bound, outwards)
        expected = {name: getattr(option, bound) for name, option in SAMPLING.items()}
        chosen = window.conversation.session.generation  # what this chat now answers with
        assert {name: getattr(chosen, name) for name in SAMPLING} == expected
