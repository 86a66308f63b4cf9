"""The Data step's records table as drawn: readable in a small window at a large font.

Qt's own stretching gave every column its share whatever it held, so at 900×600 with a 16-pt
font the Instruction and Output columns — what a person reads — shrank to a few letters while
Source and Input kept theirs. Here the columns are laid out by what they hold: "Held out" and
"Score" (shown once some record has a score) as wide as their title, Input and Source a small
share between their title's width and a few words, and the rest to Instruction and Output,
never narrower than ``LONG_MIN_CHARACTERS``: where the room is less, the table scrolls sideways
rather than squeezing them. A person may still drag any column wider; the layout is made again
when the table's width or font changes. Text that does not fit ends with "…", and pointing at it
shows it whole (only then: a cell that shows all its text needs no tooltip)."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QHelpEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QWidget,
)

from desktop.ui.studio.records_table import (
    HELD_OUT,
    INPUT,
    INSTRUCTION,
    OUTPUT,
    SCORE,
    SOURCE,
    RecordsModel,
    SortableRecords,
)

LONG_MIN_CHARACTERS = 20  # Instruction and Output: below this, scroll sideways instead
SHORT_SHARE = 0.14  # of the table's width, for each of Input and Source …
SHORT_MAX_CHARACTERS = 18  # … at most this wide
INSTRUCTION_SHARE = 0.45  # of what is left for Instruction and Output (answers run longer)
TOOLTIP_CHARACTERS = 2000


def tooltip_html(text: str) -> str:
    """``text`` as a tooltip that wraps (Qt lays plain-text tooltips out on one line)."""
    shown = text if len(text) <= TOOLTIP_CHARACTERS else text[:TOOLTIP_CHARACTERS] + "…"
    return "<qt>" + html.escape(shown).replace("\n", "<br>") + "</qt>"


class _FullTextWhereCut(QStyledItemDelegate):
    """Shows a cell's tooltip (its whole text) only where the cell cuts its text short."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event.type() == QEvent.Type.ToolTip and index.isValid():
            shown = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            whole = str(index.data(Qt.ItemDataRole.EditRole) or shown)
            margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
            room = view.visualRect(index).width() - 2 * margin
            cut = whole != shown or option.fontMetrics.horizontalAdvance(shown) > room
            if not cut or not whole.strip():
                QToolTip.hideText()
                event.ignore()
                return True
            QToolTip.showText(event.globalPos(), tooltip_html(whole), view, view.visualRect(index))
            return True
        return super().helpEvent(event, view, option, index)


class RecordsView(QTableView):
    """The records (``records_table.RecordsModel``, sorted by ``SortableRecords``)."""

    def __init__(self, model: SortableRecords, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        records = model.sourceModel()
        assert isinstance(records, RecordsModel)
        self.records = records
        self.setObjectName("studioRecords")
        self.setAccessibleName("Records")
        self.setModel(model)
        self.setItemDelegate(_FullTextWhereCut(self))
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the file's order until clicked
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        for signal in (
            records.modelReset,
            records.rowsInserted,
            records.rowsRemoved,
            records.dataChanged,
        ):
            signal.connect(self._show_scores_if_any)
        self._fit_font()
        self._show_scores_if_any()

    # -- the layout -------------------------------------------------------------------------------

    def _fit_font(self) -> None:
        metrics = self.fontMetrics()
        self.verticalHeader().setDefaultSectionSize(metrics.height() + 8)
        self.horizontalHeader().setMinimumSectionSize(metrics.horizontalAdvance("Input") + 16)
        self.fit_columns()

    def _title_width(self, column: int) -> int:
        """What the column's title needs (with the sort arrow's room)."""
        header = self.horizontalHeader()
        return max(header.sectionSizeHint(column), header.minimumSectionSize())

    def fit_columns(self) -> None:
        """Widths by what each column holds, from the width the table has now."""
        room = self.viewport().width()
        if room <= 0:
            return
        character = self.fontMetrics().averageCharWidth()
        widths: dict[int, int] = {HELD_OUT: self._title_width(HELD_OUT)}
        if not self.isColumnHidden(SCORE):
            widths[SCORE] = max(self._title_width(SCORE), self.sizeHintForColumn(SCORE))
        for column in (INPUT, SOURCE):
            share = min(round(room * SHORT_SHARE), SHORT_MAX_CHARACTERS * character)
            widths[column] = max(self._title_width(column), share)
        left = room - sum(widths.values())
        least = LONG_MIN_CHARACTERS * character
        widths[INSTRUCTION] = max(least, round(left * INSTRUCTION_SHARE))
        widths[OUTPUT] = max(least, left - widths[INSTRUCTION])
        header = self.horizontalHeader()
        for column, width in widths.items():
            header.resizeSection(column, width)

    def _show_scores_if_any(self, *_: object) -> None:
        """The Score column, once some record has a score (before, it is an empty column)."""
        scored = self.records.any_scored()
        if scored == self.isColumnHidden(SCORE):
            self.setColumnHidden(SCORE, not scored)
            self.fit_columns()

    # -- Qt's events ------------------------------------------------------------------------------

    def viewportEvent(self, event: QEvent) -> bool:
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:  # the window, the splitter, a scroll bar
            assert isinstance(event, QResizeEvent)
            if event.size().width() != event.oldSize().width():
                self.fit_columns()
        return handled

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # Settings → font size, while open
            self._fit_font()
