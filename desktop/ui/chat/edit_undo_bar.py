"""The offer to undo an edit, between the transcript and the box where questions are typed.

After an edited question is answered, the bar says how many messages the edit replaced (they
stay as the question's earlier version), with Undo (the new version goes, and they are shown
again, as they were) and Keep (the offer goes). It goes by itself when the chat
changes again: the core (``ChatSession.edit_to_undo``) decides how long an edit can be undone,
the bar only shows it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from conversion.errors import HuacayaError
from desktop.core.words import plural
from desktop.ui.chat.conversation import ConversationController
from desktop.ui.errors import show_error


class EditUndoBar(QFrame):
    def __init__(self, conversation: ConversationController, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("editUndoBar")
        self.conversation = conversation
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 0)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.undo_button = QPushButton("Undo edit", self)
        self.undo_button.setObjectName("undoEditButton")
        self.undo_button.setAutoDefault(False)
        self.undo_button.clicked.connect(self._undo)
        layout.addWidget(self.undo_button)
        self.keep_button = QPushButton("Keep", self)
        self.keep_button.setObjectName("keepEditButton")
        self.keep_button.setAutoDefault(False)
        self.keep_button.clicked.connect(self.hide)
        layout.addWidget(self.keep_button)
        self.hide()
        conversation.edit_undo_offered.connect(self._offer)

    def _offer(self, count: int) -> None:
        if count <= 0:
            self.hide()
            return
        self.label.setText(
            f"The edit replaced {plural(count, 'message')} (the question and what followed); "
            "they stay as the question's earlier version (‹ ›). Undo edit removes the new one."
        )
        self.show()

    def _undo(self) -> None:
        self.hide()
        try:
            self.conversation.undo_edit()
        except HuacayaError as exc:
            show_error(self.window(), exc)
