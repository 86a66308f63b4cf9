"""The side editor of the Data step: one record's instruction, input and output in full, where
long text is read and written comfortably. What is typed goes into the table at once."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QPlainTextEdit, QWidget

from desktop.core.studio.records import StudioRecord

FIELDS = (
    ("instruction", "Instruction", "What the model is asked to do"),
    ("input", "Input", "Optional: what the instruction works on"),
    ("output", "Output", "The answer the model should learn to give"),
)


class RecordEditor(QWidget):
    edited = Signal(object)  # the record as it now reads (a StudioRecord)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordEditor")
        self._record: StudioRecord | None = None
        self._loading = False
        self.edits: dict[str, QPlainTextEdit] = {}
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        for name, title, placeholder in FIELDS:
            edit = QPlainTextEdit(self)
            edit.setObjectName(f"record_{name}")
            edit.setAccessibleName(title)
            edit.setPlaceholderText(placeholder)
            edit.setTabChangesFocus(True)
            edit.setMinimumHeight(edit.fontMetrics().lineSpacing() * 2 + 12)
            edit.textChanged.connect(self._on_typed)
            self.edits[name] = edit
            form.addRow(title, edit)
        self.source = QLabel(self)
        self.source.setObjectName("recordSource")
        self.source.setWordWrap(True)
        form.addRow(self.source)
        self.show_record(None)

    def show_record(self, record: StudioRecord | None) -> None:
        """Show ``record`` (None: nothing chosen) without treating it as typed."""
        self._record = record
        self._loading = True
        try:
            for name, edit in self.edits.items():
                text = getattr(record, name) if record is not None else ""
                if edit.toPlainText() != text:
                    edit.setPlainText(text)
                edit.setEnabled(record is not None)
        finally:
            self._loading = False
        if record is None:
            self.source.setText("Choose a record in the table to read or edit it here.")
        else:
            where = record.source or "unknown"
            held = " · held out (not trained on)" if record.held_out else ""
            self.source.setText(f"Source: {where}{held}")

    def _on_typed(self) -> None:
        if self._loading or self._record is None:
            return
        text = {name: edit.toPlainText() for name, edit in self.edits.items()}
        self._record = replace(
            self._record,
            instruction=text["instruction"],
            input=text["input"],
            output=text["output"],
        )
        self.edited.emit(self._record)
