"""The passages behind an answer: one as the model was given it, with where it is in its file
and a button that opens the file; or every passage given with a question."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.core.documents.context import INSTRUCTION, Citation

NOT_GIVEN = "None of these seemed relevant enough to answer from; the model was not asked."


class PassageDialog(QDialog):
    """One passage as the model was given it, where it is (file, page, characters), with a
    button that opens the file; or every passage given with a question (``number`` 0)."""

    def __init__(
        self, parent: QWidget, citations: list[Citation], number: int, nearest: bool = False
    ) -> None:
        super().__init__(parent)
        self.setObjectName("passageDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(640, 420)
        shown = [c for c in citations if c.number == number] if number else citations
        self.citation = shown[0] if number and shown else None
        layout = QVBoxLayout(self)
        if self.citation is not None:
            c = self.citation
            self.setWindowTitle(f"[{c.number}] {c.label}")
            where = f"page {c.page}, " if c.page else ""
            self.location = QLabel(
                f"{html.escape(c.path)}<br>{where}characters {c.start:,}–{c.end:,}", self
            )
            self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(self.location)
        elif nearest:  # "nothing found": the model was not asked
            self.setWindowTitle("The nearest passages")
            layout.addWidget(QLabel(NOT_GIVEN, self))
        else:
            self.setWindowTitle("What the model was given")
            layout.addWidget(QLabel(INSTRUCTION, self))
        self.text = QTextBrowser(self)
        self.text.setObjectName("passageText")
        self.text.setPlainText(
            "\n\n".join(f"[{c.number}] {c.label}\n{c.text}" for c in shown)
            if self.citation is None
            else self.citation.text
        )
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        if self.citation is not None:
            self.open_button = QPushButton("Open file", self)
            buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
            path = self.citation.path
            self.open_button.clicked.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(path))
            )
        layout.addWidget(buttons)
