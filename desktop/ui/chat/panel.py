"""The right side of the window: the transcript above the box where questions are typed, with
the Send button (which turns into Stop while an answer streams); between them, the chat's tools
(the preset picker, the context meter)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from desktop.ui.chat.composer import Composer
from desktop.ui.chat.view import ChatView


class ChatPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.view = ChatView(self)
        layout.addWidget(self.view, 1)
        self.bars = QVBoxLayout()  # offers shown above the composer (undo an edit)
        self.bars.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.bars)
        self.tools = QHBoxLayout()  # the preset picker on the left, the context meter right
        self.tools.setContentsMargins(12, 6, 12, 0)
        layout.addLayout(self.tools)
        row = QHBoxLayout()
        row.setContentsMargins(12, 8, 12, 12)
        self.composer = Composer(self)
        row.addWidget(self.composer, 1)
        self.send = QPushButton("Send", self)
        self.send.setObjectName("sendButton")
        self.send.setAutoDefault(False)
        row.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
