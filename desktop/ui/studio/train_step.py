"""The Train step of the "Make your own" window."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.core.studio.project import StudioProject
from desktop.ui.studio.parts import StudioParts


class TrainStep(QWidget):
    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        self.project: StudioProject | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Fine-tune the base model on the records (LoRA on this computer's CPU).", self
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addStretch(1)

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
