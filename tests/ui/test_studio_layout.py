"""The Data step's records table as a person reads it: in a 900×600 window at a 16-pt font the
instructions and answers stay readable (a cut text shown whole when pointed at), and the line
between the table and the side, once moved, stays where it was left after a restart."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QSplitter, QStyle, QTableView, QToolTip

from desktop.core.studio.project import create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.ui.main_window import MainWindow
from desktop.ui.studio.records_table import INSTRUCTION, OUTPUT, SCORE, SOURCE
from tests.ui.conftest import open_window
from tests.ui.studio_person import child, open_studio

LONG_OUTPUT = (
    "Preheat the oven to 200 °C. Halve the tomatoes, toss them with olive oil, salt and "
    "thyme, and roast them for forty minutes, until their edges darken. Blend with stock."
)
RECORDS = [
    StudioRecord(
        "Write a recipe for a tomato soup that a child could help to make.",
        "",
        LONG_OUTPUT,
        source="written by hand",
    ),
    StudioRecord("Say hi.", "", "Hi!", source="written by hand"),
]
READABLE = 16  # characters of an instruction or an answer, at least, in sight


def _shown_characters(table: QTableView, row: int, column: int) -> int:
    """How many characters of the cell a person sees (Qt cuts the rest off with “…”)."""
    index = table.model().index(row, column)
    text = str(index.data())
    margin = 2 * (table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
    visible = table.visualRect(index).intersected(table.viewport().rect()).width() - margin
    shown = table.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, visible)
    return len(shown.rstrip("…"))


def _point_at(table: QTableView, row: int, column: int) -> None:
    """Rest the pointer on a cell until its tooltip is asked for (what Qt does after a pause)."""
    index = table.model().index(row, column)
    where = table.visualRect(index).center()
    event = QHelpEvent(QEvent.Type.ToolTip, where, table.viewport().mapToGlobal(where))
    table.viewportEvent(event)


def test_the_records_stay_readable_in_a_small_window_at_a_large_font(
    qtbot, window: MainWindow
) -> None:
    window.store.update(font_size=16)  # as Settings → Font size does
    qtbot.wait(30)  # the windows refit once the change has reached every widget
    project = create_project("Cooking assistant")
    save_records(project.records_path, RECORDS)
    studio = open_studio(qtbot, window, "Data")
    studio.resize(900, 600)
    qtbot.waitUntil(lambda: studio.width() <= 900, timeout=5_000)
    table = child(studio, QTableView, "studioRecords")
    assert table.font().pointSize() == 16
    for column in (INSTRUCTION, OUTPUT):
        assert _shown_characters(table, 0, column) >= READABLE, table.columnWidth(column)
    header = table.horizontalHeader()
    assert header.isSectionHidden(SCORE)  # nothing scored yet: no empty column taking room
    assert not header.isSectionHidden(SOURCE)

    _point_at(table, 1, INSTRUCTION)  # “Say hi.” is all there: no tooltip
    assert not QToolTip.isVisible()
    _point_at(table, 0, OUTPUT)  # a cut answer, shown whole when pointed at
    assert QToolTip.isVisible() and "Blend with stock." in QToolTip.text()

    # The side editor yields room: the person drags the line between them to the right.
    splitter = child(studio, QSplitter, "dataSplitter")
    before = splitter.sizes()
    handle = splitter.handle(1)
    middle = handle.rect().center()
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=middle)
    qtbot.mouseMove(handle, middle + QPoint(60, 0))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=middle + QPoint(60, 0))
    assert splitter.sizes()[0] > before[0]  # the table is wider now …
    share = splitter.sizes()[0] / sum(splitter.sizes())
    studio.close()  # … and stays so after a restart
    window.close()
    again = open_window(qtbot)
    studio = open_studio(qtbot, again, "Data")
    splitter = child(studio, QSplitter, "dataSplitter")
    assert abs(splitter.sizes()[0] / sum(splitter.sizes()) - share) < 0.02
    again.close()


def test_in_a_large_window_at_the_default_font_nothing_is_hidden_sideways(
    qtbot, window: MainWindow
) -> None:
    project = create_project("Cooking assistant")
    save_records(project.records_path, RECORDS)
    studio = open_studio(qtbot, window, "Data")
    studio.resize(1260, 760)  # the tests' screen is a laptop's 1280×800
    qtbot.waitUntil(lambda: studio.width() == 1260, timeout=5_000)
    table = child(studio, QTableView, "studioRecords")
    assert table.horizontalScrollBar().maximum() == 0  # nothing hidden sideways
    assert _shown_characters(table, 0, SOURCE) == len("written by hand")  # whole
    assert _shown_characters(table, 0, INSTRUCTION) >= 30  # the long ones get the room left
    assert _shown_characters(table, 0, OUTPUT) >= 40
