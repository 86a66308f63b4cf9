"""Documents in the main window: the Documents menu (the collections window, and which
collections this chat answers from), the passages found for each question, the sources under
an answer that open the passage, indexing in the background with a rescan at start, and the
folders watched for changes.

The window creates one :class:`DocumentsFeature` and calls :meth:`shutdown` when it closes.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.core import secrets
from desktop.core.documents.context import INSTRUCTION, Citation, budget_chars
from desktop.core.documents.library import Documents
from desktop.core.documents.watcher import FolderWatcher
from desktop.core.hub import HubClient
from desktop.ui.documents_dialog import DocumentsDialog
from desktop.ui.documents_worker import DocumentIndexer

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


class PassageDialog(QDialog):
    """One passage as the model was given it, where it is (file, page, characters), with a
    button that opens the file; or every passage given with a question (``number`` 0)."""

    def __init__(self, parent: QWidget, citations: list[Citation], number: int) -> None:
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


class DocumentsFeature(QObject):
    _changed_on_disk = Signal(str)  # from the watcher's thread to the window's

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.documents = Documents(threads=1)  # searches; indexing has its own
        hub = HubClient(secrets.get_token, lambda: window.store.settings.offline)
        self.indexer = DocumentIndexer(self, hub)
        self.dialog: DocumentsDialog | None = None
        self._shut_down = False
        self.watcher = FolderWatcher(self._changed_on_disk.emit)
        self._changed_on_disk.connect(self.indexer.index)
        self.indexer.collections_changed.connect(self._watch)
        session = window.conversation.session
        session.find_passages = self._passages
        window.chat_view.source_requested.connect(self.show_source)

        self.menu = QMenu("&Documents", window)
        bar = window.menuBar()
        help_menu = bar.actions()[-1]
        bar.insertMenu(help_menu, self.menu)
        self.manage = self.menu.addAction("&Collections…")
        self.manage.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.manage.triggered.connect(lambda _checked=False: self.open_dialog())
        self.menu.aboutToShow.connect(self._fill_menu)
        self.label = QLabel(window)
        self.label.setObjectName("documentsLabel")
        window.statusBar().addPermanentWidget(self.label)
        window.conversation.conversations_changed.connect(self.show_chosen)
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
        chosen = set(self.window.conversation.session.collections)
        for collection in collections:
            action = self.menu.addAction(collection.name)
            action.setCheckable(True)
            action.setChecked(collection.name in chosen)
            action.toggled.connect(lambda on, name=collection.name: self.use_collection(name, on))

    def use_collection(self, name: str, on: bool) -> None:
        session = self.window.conversation.session
        chosen = [c for c in session.collections if c != name] + ([name] if on else [])
        session.configure(collections=chosen)
        self.show_chosen()

    def show_chosen(self) -> None:
        chosen = self.window.conversation.session.collections
        self.label.setText(f"Documents: {', '.join(chosen)}" if chosen else "")

    def _passages(self, question: str, names: list[str]) -> list[Citation]:
        info = self.window.model_info
        context = info.context_length if info else 2048
        session = self.window.conversation.session
        known = {collection.name for collection in self.documents.collections()}
        gone = [name for name in names if name not in known]
        if gone:  # removed, or named by an imported chat: this chat stops using it
            names = [name for name in names if name in known]
            session.configure(collections=names)
            self.show_chosen()
            self.window.statusBar().showMessage(
                f"The collection {', '.join(f'“{n}”' for n in gone)} no longer exists; this "
                "chat no longer answers from it.",
                15_000,
            )
        answer = session.generation.max_tokens
        return self.documents.citations(question, names, budget_chars(context, answer))

    # -- sources under answers -------------------------------------------------------------

    def show_source(self, key: int, number: int) -> PassageDialog | None:
        try:
            message = self.window.conversation.session.find(key)
        except KeyError:
            return None
        dialog = PassageDialog(self.window, message.citations, number)
        dialog.show()
        return dialog

    # -- the collections window and indexing -----------------------------------------------

    def open_dialog(self) -> DocumentsDialog:
        if self.dialog is None:
            self.dialog = DocumentsDialog(
                self.window, self.documents, self.indexer, self.window.store
            )
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def rescan_all(self) -> None:
        """At start: bring every collection up to date (only changes are read), then watch."""
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
