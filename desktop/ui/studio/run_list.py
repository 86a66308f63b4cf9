"""The Train step's list of the project's runs: one row each, newest first (name, method, state,
steps, last loss), read from ``runs.list_runs``; choosing a row shows that run in the panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from desktop.core.studio.runs import RunView
from desktop.ui.studio.run_panel import STATE_WORDS


class RunList(QTreeWidget):
    chosen = Signal(str)  # the folder of the run the person chose

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingRuns")
        self.setAccessibleName("Training runs")
        self.setHeaderLabels(["Run", "Method", "State", "Steps", "Loss"])
        self.setRootIsDecorated(False)
        # sized to what they hold at every font (sized once, they stayed narrow and cut the
        # words off when the font was made larger in Settings)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._rows: list[list[str]] = []
        self.itemSelectionChanged.connect(self._selection_changed)

    def show_runs(self, runs: list[RunView], shown: Path | None) -> None:
        """``runs`` as rows, ``shown`` selected; unchanged rows are left as they are."""
        rows = []
        for run in runs:
            steps = f"{run.step}/{run.total_steps}" if run.total_steps else str(run.step)
            loss = f"{run.losses[-1][1]:.3f}" if run.losses else ""
            state = STATE_WORDS.get(run.state, run.state).split(" (")[0]
            rows.append([run.name, run.method, state, steps, loss, str(run.folder == shown)])
        if rows == self._rows:
            return  # unchanged: the list keeps its scroll position
        self._rows = rows
        self.blockSignals(True)
        self.clear()
        for run, row in zip(runs, rows, strict=True):
            item = QTreeWidgetItem(row[:5])
            item.setData(0, Qt.ItemDataRole.UserRole, str(run.folder))
            self.addTopLevelItem(item)
            if run.folder == shown:
                item.setSelected(True)
        self.blockSignals(False)

    def _selection_changed(self) -> None:
        items = self.selectedItems()
        if items:
            self.chosen.emit(str(items[0].data(0, Qt.ItemDataRole.UserRole)))
