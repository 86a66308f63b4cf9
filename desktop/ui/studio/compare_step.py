"""The Compare step of the "Make your own" window."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.core.studio.project import StudioProject
from desktop.ui.studio.parts import StudioParts


class CompareStep(QWidget):
    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        self.project: StudioProject | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Compare the base model and the fine-tune blindly, on held-out records or your own"
            " prompts.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addStretch(1)

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
