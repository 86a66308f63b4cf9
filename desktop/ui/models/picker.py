"""The model picker in the toolbar: installed models, then "Open model file…"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop.core.models.library import ModelEntry

OPEN_FILE = "__open_file__"


class ModelPicker(QComboBox):
    model_chosen = Signal(str)  # a library id other than the current one
    open_file_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPicker")
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.current_id = ""
        self.activated.connect(self._on_activated)

    def fill(self, entries: list[ModelEntry]) -> None:
        self.clear()
        for entry in entries:
            self.addItem(entry.name, entry.id)
        self.insertSeparator(self.count())
        self.addItem("Open model file…", OPEN_FILE)
        self.select(self.current_id)

    def select(self, model_id: str) -> None:
        self.current_id = model_id
        index = self.findData(model_id)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_activated(self, index: int) -> None:
        model_id = self.itemData(index)
        if model_id == OPEN_FILE:
            self.select(self.current_id)
            self.open_file_requested.emit()
        elif model_id != self.current_id:
            self.model_chosen.emit(model_id)
