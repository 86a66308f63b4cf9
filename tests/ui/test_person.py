"""The test helpers click as a person does: a button in a table row that was just rebuilt is
clicked where the view lays it out, not where it sat for a moment before."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from tests.ui.person import click


def test_a_button_in_a_table_row_just_rebuilt_takes_the_click(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = QTableWidget(0, 4)
    qtbot.addWidget(table)
    table.resize(700, 300)
    table.show()
    qtbot.waitExposed(table)
    clicked: list[str] = []

    def rebuild() -> QPushButton:  # as the jobs table rebuilds a row whose state changed
        table.setRowCount(0)
        table.insertRow(0)
        for column in range(3):
            table.setItem(0, column, QTableWidgetItem("a job"))
        cell = QWidget()
        layout = QHBoxLayout(cell)
        for text in ("Retry", "Remove"):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, text=text: clicked.append(text))
            layout.addWidget(button)
        table.setCellWidget(0, 3, cell)
        table.resizeRowsToContents()
        return button

    rebuild()
    qtbot.wait(10)
    remove = rebuild()  # the view's layout is still pending: the cell sits at the row's start
    click(remove)
    qtbot.waitUntil(lambda: clicked == ["Remove"], timeout=2_000)
