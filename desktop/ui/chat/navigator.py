"""Which chat is open: a new one, one chosen in the list (at the message a search found), the
open one again after its delete is undone, the one chat of an imported file; the list follows.

Nothing changes while an answer streams (the list is disabled then too)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from conversion.errors import HuacayaError
from desktop.core.history.all_chats import ImportReport
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.actions import ChatActions
from desktop.ui.chat.conversation import ConversationController
from desktop.ui.chat.sidebar import Sidebar
from desktop.ui.documents.feature import DocumentsFeature
from desktop.ui.errors import show_error


class ChatNavigator(QObject):
    changed = Signal()  # another chat is open, or the list changed: controls follow

    def __init__(
        self,
        sidebar: Sidebar,
        conversation: ConversationController,
        actions: ChatActions,
        docs: DocumentsFeature,
        engine: EngineController,
        composer: QWidget,
    ) -> None:
        super().__init__(sidebar)
        self.sidebar, self.conversation, self.actions = sidebar, conversation, actions
        self.docs, self.engine, self.composer = docs, engine, composer
        self._deleted_open = False  # the chat whose delete can be undone was the open one
        sidebar.conversation_chosen.connect(self.open)
        sidebar.new_chat_clicked.connect(self.new)
        sidebar.deleted.connect(self._on_deleted)
        sidebar.restored.connect(self._on_restored)
        sidebar.renamed.connect(lambda _id: self.refresh())
        conversation.conversations_changed.connect(self.refresh)

    def refresh(self) -> None:
        self.sidebar.refresh(self.conversation.conversation_id)
        self.changed.emit()

    def on_current(self, action: Callable[[int], object]) -> None:
        """``action`` on the open chat, if it is saved and not answering."""
        if self.conversation.conversation_id is not None and not self.engine.generating:
            action(self.conversation.conversation_id)

    def new(self) -> None:
        if self.engine.generating:
            return
        self.actions.cancel_edit()
        self.conversation.new()
        self.docs.show_chosen()
        self.sidebar.select(None)
        self.actions.clear_stats()
        self.changed.emit()
        self.composer.setFocus()

    def open(self, conversation_id: int) -> None:
        if self.engine.generating:
            return
        self.actions.cancel_edit()
        try:
            self.conversation.open(conversation_id)
        except HuacayaError as exc:
            show_error(self.sidebar.window(), exc)
            return
        self.sidebar.select(conversation_id)
        self.docs.show_chosen()
        self.actions.clear_stats()
        self.changed.emit()
        search = self.sidebar.search.text().strip()
        if self.sidebar.searching and search:  # show the message the search found
            self.conversation.view.show_match(
                search.split()[0], self.sidebar.hit_in(conversation_id)
            )

    def show_imported(self, report: ImportReport) -> None:
        """Imported chats are listed; the one chat of a single-chat file opens (also when it
        was already here)."""
        self.refresh()
        if len(report.chats) == 1:
            self.open(report.chats[0])

    def _on_deleted(self, conversation_id: int) -> None:
        self._deleted_open = conversation_id == self.conversation.conversation_id
        if self._deleted_open:
            self.new()
        self.changed.emit()

    def _on_restored(self, conversation_id: int) -> None:
        """Undo of a delete: the chat that was open comes back into view, unless another one
        was started meanwhile."""
        if self._deleted_open and not self.conversation.messages and not self.engine.generating:
            self.open(conversation_id)
        self._deleted_open = False
