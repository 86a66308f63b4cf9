"""The conversations panel: newest first, New chat, search over every message (one row per
chat, its best hit highlighted), rename, delete with a few seconds to undo, export (Markdown,
JSON) and import (JSON: ``transfers.py`` does it). Right-click (or the context-menu key) on a
chat offers them all."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QKeyEvent, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from conversion.output import atomic_write_text
from desktop.core.history.export import export_json, export_markdown
from desktop.core.history.store import (
    LONGEST_TITLE,
    Conversation,
    History,
    SearchHit,
    title_from,
)
from desktop.ui import dialogs
from desktop.ui.background.tasks import run_in_background
from desktop.ui.errors import show_error

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole
HIT_ROLE = Qt.ItemDataRole.UserRole + 1  # a search result's message
SHOWN_TITLE = 120  # characters of a title in the list (a title may be longer)
SEARCH_DELAY_MS = 150
UNDO_SECONDS = 6


class HtmlDelegate(QStyledItemDelegate):
    """Items whose text is a little HTML (a bold title, a highlighted search hit)."""

    def _document(self, option: QStyleOptionViewItem, index: QModelIndex) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultFont(option.font)
        document.setHtml(index.data(Qt.ItemDataRole.DisplayRole) or "")
        # The list's own width: before the first layout (right after a start) option.rect is
        # not set yet, and measuring at a made-up width gave rows of the wrong height.
        view = option.widget
        width = view.viewport().width() if isinstance(view, QListView) else option.rect.width()
        document.setTextWidth(max(width - 12, 50))
        return document

    def paint(self, painter, option, index) -> None:
        options = QStyleOptionViewItem(option)
        self.initStyleOption(options, index)
        document = self._document(options, index)
        options.text = ""
        style = options.widget.style() if options.widget else None
        if style:
            style.drawControl(
                QStyle.ControlElement.CE_ItemViewItem, options, painter, options.widget
            )
        painter.save()
        painter.translate(options.rect.left() + 6, options.rect.top() + 4)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette = QPalette(options.palette)  # the list's colours, in every theme
        if options.state & QStyle.StateFlag.State_Selected:
            context.palette.setColor(
                QPalette.ColorRole.Text, options.palette.color(QPalette.ColorRole.HighlightedText)
            )
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option, index) -> QSize:
        document = self._document(option, index)
        return QSize(int(document.idealWidth()), int(document.size().height()) + 8)


def _when(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp)
    today = datetime.now().date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b %Y")


class _EscapeClears(QObject):
    """Esc in the search box clears the search (and shows every chat again)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and isinstance(watched, QLineEdit)
            and watched.text()
        ):
            watched.clear()
            return True
        return False


class Sidebar(QWidget):
    conversation_chosen = Signal(int)
    new_chat_clicked = Signal()
    deleted = Signal(int)
    restored = Signal(int)  # a deleted chat came back (Undo)
    renamed = Signal(int)
    import_clicked = Signal()  # the window imports (``transfers.py``)

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.history = history
        self.current: int | None = None
        self._deleted: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.clicked.connect(self.new_chat_clicked)
        buttons.addWidget(self.new_button, 1)
        self.import_button = QPushButton("Import…", self)
        self.import_button.setToolTip("Import chats from a Huacaya export (one chat or all)")
        self.import_button.clicked.connect(lambda _checked=False: self.import_clicked.emit())
        buttons.addWidget(self.import_button)
        layout.addLayout(buttons)
        self.search = QLineEdit(self)
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search all chats (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self._escape = _EscapeClears(self)
        self.search.installEventFilter(self._escape)
        layout.addWidget(self.search)
        self.list = QListWidget(self)
        self.list.setObjectName("conversationList")
        self.list.setItemDelegate(HtmlDelegate(self.list))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)  # rows re-measured on resize
        self.list.setWordWrap(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._chosen)
        self.list.itemClicked.connect(self._chosen)
        layout.addWidget(self.list, 1)
        self.undo_bar = QWidget(self)
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(4, 2, 4, 2)
        self.undo_label = QLabel(self.undo_bar)
        self.undo_label.setWordWrap(True)
        undo_layout.addWidget(self.undo_label, 1)
        self.undo_button = QPushButton("Undo", self.undo_bar)
        self.undo_button.setObjectName("undoButton")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.hide()
        layout.addWidget(self.undo_bar)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(self.forget_deleted)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.refresh(self.current))
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.searching = False

    def refresh(self, current: int | None) -> None:
        """The list, or the search results while there is a search."""
        self.current = current
        query = self.search.text().strip()
        if query:  # off the GUI thread: typing never waits for a search
            history = self.history
            run_in_background(
                lambda _progress, _cancel: history.search(query),
                lambda hits: self._searched(query, hits),
                lambda exc: self._searched(query, exc),
                owner=self,
            )
        else:
            self.show_conversations(self.history.list(), current)

    def _searched(self, query: str, hits: list[SearchHit] | BaseException) -> None:
        if query != self.search.text().strip():
            return  # the words changed while this search ran: a newer one follows
        if isinstance(hits, BaseException):
            log.warning("search for %r failed: %s", query, hits)
            self.show_search_results([], f"The search failed: {html.escape(str(hits))}")
        else:
            self.show_search_results(hits)

    def show_conversations(self, conversations: list[Conversation], current: int | None) -> None:
        self.searching = False
        self.list.clear()
        for conversation in conversations:
            title = html.escape(title_from(conversation.title, SHOWN_TITLE) or "New chat")
            item = QListWidgetItem(
                f"<b>{title}</b><br><small>{_when(conversation.updated_at)}</small>"
            )
            item.setData(ID_ROLE, conversation.id)
            item.setToolTip(title_from(conversation.title, LONGEST_TITLE))
            self.list.addItem(item)
        self.select(current)

    def show_search_results(self, hits: list[SearchHit], empty_text: str = "") -> None:
        """One row per chat (its newest matching message), however many messages match."""
        self.searching = True
        self.list.clear()
        if not hits:
            empty = QListWidgetItem(f"<i>{empty_text or 'No messages match.'}</i>")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)
        shown: set[int] = set()
        for hit in hits:
            if hit.conversation_id in shown:
                continue
            shown.add(hit.conversation_id)
            title = html.escape(title_from(hit.title, SHOWN_TITLE) or "New chat")
            item = QListWidgetItem(f"<b>{title}</b><br><small>{hit.snippet_html}</small>")
            item.setData(ID_ROLE, hit.conversation_id)
            item.setData(HIT_ROLE, hit.message_id)
            item.setToolTip(title_from(hit.title, LONGEST_TITLE))
            self.list.addItem(item)

    def select(self, conversation_id: int | None) -> None:
        """Highlight the chat that is open (None: a new chat, none highlighted)."""
        self.current = conversation_id
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == conversation_id:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    def item_for(self, conversation_id: int) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == conversation_id:
                return self.list.item(row)
        return None

    # -- operations ------------------------------------------------------------------------

    def rename(self, conversation_id: int) -> None:
        """Ask for a new title in a dialog (it does not block the window)."""
        dialogs.ask_text(
            self,
            "Rename chat",
            "New title for this chat:",
            self.history.get(conversation_id).title,
            lambda title: self._rename(conversation_id, title),
            "renameDialog",
        )

    def _rename(self, conversation_id: int, title: str) -> None:
        if title.strip():
            self.history.rename(conversation_id, title)
            self.refresh(self.current)
            self.renamed.emit(conversation_id)

    def delete(self, conversation_id: int) -> None:
        """Hide it at once; it is gone for good when the undo offer expires."""
        self.forget_deleted()  # one undo at a time
        title = title_from(self.history.get(conversation_id).title, SHOWN_TITLE) or "Conversation"
        self.history.delete(conversation_id)
        self._deleted = conversation_id
        self.undo_label.setText(f"“{title}” deleted.")
        self.undo_bar.show()
        self._undo_timer.start(UNDO_SECONDS * 1000)
        self.deleted.emit(conversation_id)
        self.refresh(self.current)

    def undo_delete(self) -> None:
        restored, self._deleted = self._deleted, None
        if restored is not None:
            self.history.restore(restored)
        self._undo_timer.stop()
        self.undo_bar.hide()
        self.refresh(self.current)
        if restored is not None:
            self.restored.emit(restored)

    def forget_deleted(self) -> None:
        if self._deleted is not None:
            self.history.purge_deleted()
            self._deleted = None
        self._undo_timer.stop()
        self.undo_bar.hide()

    def export_conversation(self, conversation_id: int, kind: str) -> None:
        """Ask where to save the chat (Markdown or JSON), then save it there."""
        suffix = "md" if kind == "markdown" else "json"
        title = self.history.get(conversation_id).title or "conversation"
        safe = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", title[:40]).strip() or "conversation"
        dialogs.save_file(
            self,
            "Export chat",
            lambda path: self.export_to(conversation_id, kind, path),
            "Markdown (*.md)" if kind == "markdown" else "JSON (*.json)",
            Path.home() / f"{safe}.{suffix}",
        )

    def export_to(self, conversation_id: int, kind: str, path: Path) -> None:
        if kind == "markdown":
            text = export_markdown(self.history, conversation_id)
        else:
            data = export_json(self.history, conversation_id)
            text = json.dumps(data, indent=2, ensure_ascii=False)
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            show_error(self, HuacayaError(f"Could not write “{path}”: {exc.strerror}."))

    def set_transferring(self, busy: bool, importing: bool) -> None:
        """An import or an export of all chats runs (``transfers.py``): the button waits for
        it, and says so when it is an import."""
        self.import_button.setEnabled(not busy)
        self.import_button.setText("Importing…" if busy and importing else "Import…")

    def hit_in(self, conversation_id: int) -> int | None:
        """The message a search result of ``conversation_id`` found (None: no search)."""
        item = self.item_for(conversation_id) if self.searching else None
        return item.data(HIT_ROLE) if item is not None else None

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _chosen(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(ID_ROLE)
        if conversation_id is not None:
            self.conversation_chosen.emit(int(conversation_id))

    def context_menu(self, conversation_id: int) -> QMenu:
        """The actions on one chat, as its right-click menu shows them."""
        menu = QMenu(self)
        menu.setObjectName("chatMenu")
        menu.addAction("Rename…", lambda: self.rename(conversation_id))
        menu.addAction(
            "Export as Markdown…", lambda: self.export_conversation(conversation_id, "markdown")
        )
        menu.addAction("Export as JSON…", lambda: self.export_conversation(conversation_id, "json"))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete(conversation_id))
        return menu

    def _menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is None or item.data(ID_ROLE) is None:
            return
        menu = self.context_menu(int(item.data(ID_ROLE)))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(position))
