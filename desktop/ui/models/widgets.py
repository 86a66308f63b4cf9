"""Small widget helpers shared by the Models window's tabs."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QTableWidget

from conversion.quantize import QUANT_TYPES


def table(headers: list[str]) -> QTableWidget:
    widget = QTableWidget(0, len(headers))
    widget.setHorizontalHeaderLabels(headers)
    widget.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    widget.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    widget.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    widget.verticalHeader().hide()
    widget.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return widget


def quant_box(default: str = "q4_k_m") -> QComboBox:
    box = QComboBox()
    for name in QUANT_TYPES:
        box.addItem(name.upper(), name)
    box.addItem("keep as converted (F16)", "")
    box.setCurrentIndex(box.findData(default))
    return box
