"""The project's records as a table model: one row per record, thousands of them without a
widget per cell. The person edits short text in place, long text in the side editor
(``record_editor.py``), and ticks "Held out"; every change emits ``changed`` (the Data step saves
it). The last destructive change (delete, drop the worst, hold out, import…) can be undone until
the next change."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from desktop.core.studio.records import StudioRecord

COLUMNS = ("Instruction", "Input", "Output", "Source", "Score", "Held out")
TEXT_FIELDS = ("instruction", "input", "output", "source")
INSTRUCTION, INPUT, OUTPUT, SOURCE, SCORE, HELD_OUT = range(len(COLUMNS))
EDITABLE = (INSTRUCTION, INPUT, OUTPUT)
SHOWN_CHARACTERS = 300  # of one cell; the side editor shows all of it
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex


def _one_line(text: str) -> str:
    line = " ⏎ ".join(part for part in text.splitlines() if part.strip())
    return line if len(line) <= SHOWN_CHARACTERS else line[:SHOWN_CHARACTERS] + "…"


class RecordsModel(QAbstractTableModel):
    changed = Signal()  # the records differ from what was last loaded or saved
    undo_available = Signal(str)  # what Undo would undo ("" when nothing)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._records: list[StudioRecord] = []
        self._undo: tuple[str, list[StudioRecord]] | None = None

    # -- the records ------------------------------------------------------------------------------

    def records(self) -> list[StudioRecord]:
        return list(self._records)

    def record(self, row: int) -> StudioRecord:
        return self._records[row]

    def any_scored(self) -> bool:
        return any(r.score is not None for r in self._records)

    def load(self, records: list[StudioRecord]) -> None:
        """Show ``records`` as they are on disk (not a change; nothing to undo)."""
        self.beginResetModel()
        self._records = list(records)
        self.endResetModel()
        self._set_undo(None)

    def replace_record(self, row: int, record: StudioRecord) -> None:
        if self._records[row] == record:
            return
        self._records[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        self._changed()

    def append(self, records: list[StudioRecord], undo_text: str = "") -> None:
        if not records:
            return
        before = self.records()
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self._records.extend(records)
        self.endInsertRows()
        self._changed((undo_text, before) if undo_text else None)

    def set_all(self, records: list[StudioRecord], undo_text: str) -> None:
        """Replace every record (drop the worst, undo…), keeping the old ones for Undo."""
        before = self.records()
        self.beginResetModel()
        self._records = list(records)
        self.endResetModel()
        self._changed((undo_text, before))

    def remove_rows(self, rows: list[int], undo_text: str) -> None:
        gone = set(rows)
        if gone:
            self.set_all([r for i, r in enumerate(self._records) if i not in gone], undo_text)

    def undo(self) -> bool:
        if self._undo is None:
            return False
        _, before = self._undo
        self.beginResetModel()
        self._records = before
        self.endResetModel()
        self._changed()
        return True

    def _changed(self, undo: tuple[str, list[StudioRecord]] | None = None) -> None:
        self._set_undo(undo)
        self.changed.emit()

    def _set_undo(self, undo: tuple[str, list[StudioRecord]] | None) -> None:
        if undo is None and self._undo is None:
            return
        self._undo = undo
        self.undo_available.emit(undo[0] if undo else "")

    # -- Qt's table model -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return str(section + 1)

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.column() in EDITABLE:
            flags |= Qt.ItemFlag.ItemIsEditable
        elif index.column() == HELD_OUT:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        if column == HELD_OUT:
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if record.held_out else Qt.CheckState.Unchecked
            if role == SORT_ROLE:
                return int(record.held_out)
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return "held out" if record.held_out else "trained on"
            return None
        if column == SCORE:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return "" if record.score is None else f"{record.score:.3g}"
            if role == SORT_ROLE:
                return float("-inf") if record.score is None else record.score
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        text = getattr(record, TEXT_FIELDS[column])
        if role == Qt.ItemDataRole.DisplayRole:
            return _one_line(text)
        if role == Qt.ItemDataRole.EditRole:
            return text
        if role == SORT_ROLE:
            return text.casefold()
        if role == Qt.ItemDataRole.ToolTipRole and len(text) > 60:
            return text[:2000]
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        row, column = index.row(), index.column()
        record = self._records[row]
        if column == HELD_OUT and role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self.replace_record(row, replace(record, held_out=checked))
            return True
        if column in EDITABLE and role == Qt.ItemDataRole.EditRole:
            change: dict[str, Any] = {TEXT_FIELDS[column]: str(value)}
            self.replace_record(row, replace(record, **change))
            return True
        return False


class SortableRecords(QSortFilterProxyModel):
    """Sorting by any column (numbers by value, records without a score last when best first)."""

    def __init__(self, source: RecordsModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(False)  # a row being edited does not jump away
