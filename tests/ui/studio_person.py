"""The "Make your own" window used as a person (see person.py): opened from the menu bar, a step
chosen by clicking its tab, buttons found by their text, numbers and text typed over what a box
holds, the records table read as it is drawn. Shared by every studio window test."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QTabWidget,
    QWidget,
)

from desktop.ui.main_window import MainWindow
from desktop.ui.studio.window import StudioWindow
from tests.ui.person import choose_in_combo, click, from_menu, pick_file, type_into_dialog

W = TypeVar("W", bound=QWidget)


def open_studio(qtbot, window: MainWindow, step: str = "") -> StudioWindow:  # type: ignore[no-untyped-def]
    """Models → Make your own model…; then the tab of ``step`` ("Data", "Train"…) if given."""
    from_menu(qtbot, window, "Models", "Make your own model…")
    studio = window.studio_window
    assert isinstance(studio, StudioWindow)
    qtbot.waitExposed(studio)
    if step:
        choose_step(studio, step)
    return studio


def choose_step(studio: StudioWindow, step: str) -> None:
    """Click the tab whose title ends with ``step`` ("1  Data" … "4  Use")."""
    tabs = child(studio, QTabWidget, "studioSteps")
    bar = tabs.tabBar()
    index = next(i for i in range(tabs.count()) if tabs.tabText(i).endswith(step))
    click(bar, bar.tabRect(index).center())
    assert tabs.currentIndex() == index


def new_project(qtbot, studio: StudioWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    click(button(studio, "New project…"))
    type_into_dialog(qtbot, "newProjectName", name)


def child(parent: QWidget, kind: type[W], name: str) -> W:
    """The widget of type ``kind`` named ``name`` (its object name) in ``parent``."""
    widget = parent.findChild(kind, name)
    assert widget is not None, f"no {name}"
    return widget


def button(parent: QWidget, text: str) -> QPushButton:
    """The visible button that says ``text``, scrolled into sight."""
    found = [b for b in parent.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert found, f"no visible “{text}” button"
    scroll_to(found[0])
    return found[0]


def scroll_to(widget: QWidget) -> None:
    """Scroll the panel holding ``widget`` until it is in sight, as a person would with the
    wheel."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(widget)


def type_over(qtbot, edit: QWidget, text: str) -> None:  # type: ignore[no-untyped-def]
    """Click into a text box, select what it holds and type ``text`` over it."""
    scroll_to(edit)
    click(edit.viewport() if isinstance(edit, QPlainTextEdit) else edit)
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, text)


def type_number(qtbot, parent: QWidget, name: str, value: int) -> None:  # type: ignore[no-untyped-def]
    """Type ``value`` into the number box whose accessible name is ``name``; Tab out of it."""
    spin = next(s for s in parent.findChildren(QAbstractSpinBox) if s.accessibleName() == name)
    scroll_to(spin)
    click(spin)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    assert spin.text().split()[0] == str(value)


def radio(parent: QWidget, text: str) -> QRadioButton:
    return next(r for r in parent.findChildren(QRadioButton) if r.text() == text)


def choose_a_short_lora(  # type: ignore[no-untyped-def]
    qtbot, studio: StudioWindow, steps: int, every: int, longest: int = 64
) -> None:
    """In the Train step: a LoRA of ``steps`` steps of two examples of at most ``longest``
    tokens, a checkpoint every ``every`` steps (short enough for a test on a 2-core CPU)."""
    click(radio(studio, "Steps"))
    type_number(qtbot, studio, "Steps", steps)
    type_number(qtbot, studio, "Longest example", longest)
    type_number(qtbot, studio, "Examples per step", 2)
    type_number(qtbot, studio, "Checkpoint every", every)
    assert radio(studio, "LoRA").isChecked()


def rows(table: QTableView) -> list[list[str]]:
    """What the table shows, row by row (its cells' text as drawn)."""
    model = table.model()
    return [
        [str(model.index(r, c).data() or "") for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def click_cell(table: QTableView, row: int, column: int = 0) -> None:
    index = table.model().index(row, column)
    table.scrollTo(index)
    click(table.viewport(), table.visualRect(index).center())


def side_tab(studio: StudioWindow, title: str) -> None:
    """Click the Data step's side tab ``title`` ("Record", "Teacher")."""
    tabs = child(studio, QTabWidget, "dataSide")
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == title)
    click(tabs.tabBar(), tabs.tabBar().tabRect(index).center())
    assert tabs.currentIndex() == index


GENERATE_MS = 60_000


def use_endpoint(qtbot, studio: StudioWindow, url: str) -> None:  # type: ignore[no-untyped-def]
    """In the Data step's Teacher tab: an OpenAI-compatible endpoint at ``url`` as the teacher."""
    side_tab(studio, "Teacher")
    choose_in_combo(qtbot, child(studio, QComboBox, "studioTeacher"), "openai")
    type_over(qtbot, child(studio, QLineEdit, "teacherUrl"), url)
    type_over(qtbot, child(studio, QLineEdit, "teacherModel"), "loopback-teacher")


def generate(qtbot, studio: StudioWindow, url: str, seeds: Path, count: int) -> None:  # type: ignore[no-untyped-def]
    """Generate ``count`` records from the seed tasks in ``seeds`` with the endpoint at ``url``
    (the real self-instruct runner), and wait for the line saying what was added."""
    use_endpoint(qtbot, studio, url)
    click(button(studio, "Seed tasks…"))
    pick_file(qtbot, seeds)
    type_over(qtbot, child(studio, QSpinBox, "generateCount").lineEdit(), str(count))
    note = child(studio, QLabel, "dataNote")
    click(button(studio, "Generate"))
    qtbot.waitUntil(lambda: note.text().startswith("Added"), timeout=GENERATE_MS)
