"""Documents in the main window: the Documents menu (the collections window, and which
collections this chat answers from), the passages found for each question, the sources under
an answer that open the passage, indexing in the background with a rescan at start, and the
folders watched for changes.

It is given the chat session it finds passages for, the settings, and a way to ask which model
is loaded; it makes its menu and its status-bar label, which the window places, and says what
the user should know on ``notice``. The window calls :meth:`shutdown` when it closes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QWidget

from desktop.core import secrets
from desktop.core.chat.engine import ModelInfo
from desktop.core.chat.session import ChatSession
from desktop.core.documents.context import Passages, budget_for
from desktop.core.documents.library import Documents
from desktop.core.documents.watcher import FolderWatcher
from desktop.core.hub.client import HubClient
from desktop.core.settings import SettingsStore
from desktop.ui import dialogs
from desktop.ui.background.indexer_thread import DocumentIndexer
from desktop.ui.documents.dialog import DocumentsDialog
from desktop.ui.documents.passages import PassageDialog

DEFAULT_CONTEXT = 2048  # passages' budget while no model is loaded


class DocumentsFeature(QObject):
    _changed_on_disk = Signal(str)  # from the watcher's thread to the GUI thread
    notice = Signal(str)  # a message for the status bar

    def __init__(
        self,
        session: ChatSession,
        store: SettingsStore,
        loaded_model: Callable[[], ModelInfo | None],
        parent: QWidget,
    ) -> None:
        """``parent``: the window its menu, label and dialogs belong to."""
        super().__init__(parent)
        self.parent_widget = parent
        self.session = session
        self.store = store
        self.loaded_model = loaded_model
        self.documents = Documents(threads=1)  # searches; indexing has its own
        hub = HubClient(secrets.get_token, lambda: store.settings.offline)
        self.indexer = DocumentIndexer(self, hub)
        self.dialog: DocumentsDialog | None = None
        self._shut_down = False
        self.watcher = FolderWatcher(self._changed_on_disk.emit)
        self._changed_on_disk.connect(self.indexer.index)
        self.indexer.collections_changed.connect(self._watch)
        session.find_passages = self._passages

        self.menu = QMenu("&Documents", parent)
        self.manage = self.menu.addAction("&Collections…")
        self.manage.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.manage.triggered.connect(lambda _checked=False: self.open_dialog())
        self.menu.aboutToShow.connect(self._fill_menu)
        self.label = QLabel(parent)
        self.label.setObjectName("documentsLabel")
        QTimer.singleShot(0, self.rescan_all)

    # -- which collections this chat uses --------------------------------------------------

    def _fill_menu(self) -> None:
        for action in self.menu.actions()[1:]:
            self.menu.removeAction(action)
        collections = self.documents.collections()
        self.menu.addSeparator()
        if not collections:
            self.menu.addAction("No collections yet").setEnabled(False)
            return
        header = self.menu.addAction("Answer this chat from:")
        header.setEnabled(False)
        chosen = set(self.session.collections)
        for collection in collections:
            action = self.menu.addAction(collection.name)
            action.setCheckable(True)
            action.setChecked(collection.name in chosen)
            action.toggled.connect(lambda on, name=collection.name: self.use_collection(name, on))

    def use_collection(self, name: str, on: bool) -> None:
        chosen = [c for c in self.session.collections if c != name] + ([name] if on else [])
        self.session.configure(collections=chosen)
        self.show_chosen()

    def show_chosen(self) -> None:
        chosen = self.session.collections
        self.label.setText(f"Documents: {', '.join(chosen)}" if chosen else "")
        if self.dialog is not None:
            self.dialog.show_chosen()

    def _passages(self, question: str, names: list[str]) -> Passages:
        known = {collection.name for collection in self.documents.collections()}
        gone = [name for name in names if name not in known]
        if gone:  # removed, or named by an imported chat: this chat stops using it
            names = [name for name in names if name in known]
            self.session.configure(collections=names)
            self.show_chosen()
            self.notice.emit(
                f"The collection {', '.join(f'“{n}”' for n in gone)} no longer exists; this "
                "chat no longer answers from it."
            )
        info = self.loaded_model()
        context = info.context_length if info else DEFAULT_CONTEXT
        answer = self.session.generation.max_tokens
        size = info.parameter_count if info else 0
        return self.documents.passages(question, names, budget_for(size, context, answer))

    # -- sources under answers -------------------------------------------------------------

    def show_source(self, key: int, number: int) -> PassageDialog | None:
        try:
            message = self.session.find(key)
        except KeyError:
            return None
        nearest = bool(message.stats.get("not_found"))
        dialog = PassageDialog(self.parent_widget, message.citations, number, nearest)
        dialog.show()
        return dialog

    # -- the collections window and indexing -----------------------------------------------

    def open_dialog(self) -> DocumentsDialog:
        if self.dialog is None:
            self.dialog = DocumentsDialog(
                self.parent_widget,
                self.documents,
                self.indexer,
                self.store,
                lambda: self.session.collections,
            )
            self.dialog.use_requested.connect(self.use_collection)
        return dialogs.present(self.dialog)

    def rescan_all(self) -> None:
        """At start: bring every collection up to date (only changes are read), then watch."""
        if self._shut_down:  # the window closed before it came to this
            return
        for collection in self.documents.collections():
            self.indexer.index(collection.name)
        self._watch()

    def _watch(self) -> None:
        if not self._shut_down:
            self.watcher.watch(self.documents.collections())

    def shutdown(self) -> None:
        self._shut_down = True
        self.watcher.stop()
        self.indexer.blockSignals(True)  # nothing it says now can be shown
        self.indexer.shutdown()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()  # with it go the signals already on their way to it
            self.dialog = None
        self.documents.close()
