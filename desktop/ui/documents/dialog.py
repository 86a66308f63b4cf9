"""The Documents window: collections, their folders, the files that cannot be read (with the
reason), and indexing progress — files, chunks per second, time left — with Pause and Cancel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core.documents.indexer import IndexReport, IndexStatus
from desktop.core.documents.library import Documents
from desktop.core.models.embedding_model import (
    EMBEDDING_NAME,
    check_model_name,
    installed_embedding_models,
    needs_download,
)
from desktop.core.settings import SettingsStore
from desktop.core.words import plural
from desktop.ui import dialogs
from desktop.ui.background.indexer_thread import DocumentIndexer
from desktop.ui.errors import show_error


class DocumentsDialog(QDialog):
    collections_changed = Signal()

    def __init__(
        self,
        parent: QWidget,
        documents: Documents,
        indexer: DocumentIndexer,
        settings: SettingsStore,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._new_name = ""  # a new collection, selected as soon as it exists
        self.setObjectName("documentsDialog")
        self.setWindowTitle("Documents")
        self.resize(760, 520)
        self.documents = documents
        self.indexer = indexer

        self.collection_list = QListWidget(self)
        self.collection_list.setObjectName("collectionList")
        self.collection_list.currentItemChanged.connect(lambda *_: self._show_details())
        self.new_button = QPushButton("New collection…", self)
        self.add_folder_button = QPushButton("Add folder…", self)
        self.add_file_button = QPushButton("Add file…", self)
        self.reindex_button = QPushButton("Reindex", self)
        self.remove_button = QPushButton("Remove", self)
        self.new_button.clicked.connect(self._new_collection)
        self.add_folder_button.clicked.connect(self._add_folder)
        self.add_file_button.clicked.connect(self._add_file)
        self.reindex_button.clicked.connect(lambda: self._with_current(self.indexer.index))
        self.remove_button.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.add_folder_button,
            self.add_file_button,
            self.reindex_button,
            self.remove_button,
        ):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.sources = QLabel(self)
        self.sources.setWordWrap(True)
        self.sources.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unreadable = QListWidget(self)
        self.unreadable.setObjectName("unreadableList")

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress_label = QLabel("Nothing is being indexed.", self)
        self.progress_label.setObjectName("indexStatus")
        self.pause_button = QPushButton("Pause", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(self.indexer.cancel)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.pause_button)
        progress_row.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Collections (tick them for a chat in the Documents menu):"))
        layout.addWidget(self.collection_list, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.sources)
        layout.addWidget(QLabel("Files that cannot be read:"))
        layout.addWidget(self.unreadable, 1)
        layout.addLayout(progress_row)
        layout.addWidget(self.progress_label)

        indexer.started.connect(self._on_started)
        indexer.preparing.connect(self._on_preparing)
        indexer.status.connect(self._on_status)
        indexer.finished.connect(self._on_finished)
        indexer.cancelled.connect(self._on_cancelled)
        indexer.failed.connect(self._on_failed)
        indexer.collections_changed.connect(self.refresh)
        self._set_running(indexer.busy)
        self.refresh()

    # -- the list ----------------------------------------------------------------------------

    def current_name(self) -> str:
        item = self.collection_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def refresh(self) -> None:
        if self.documents.closed:  # the window is closing; news from the indexer came late
            return
        collections = self.documents.collections()
        made = self._new_name in {c.name for c in collections}
        chosen = self._new_name if made else self.current_name()  # a collection just made
        if made:
            self._new_name = ""
        self.collection_list.clear()
        for collection in collections:
            counts = f"{plural(collection.files, 'file')} · {plural(collection.chunks, 'chunk')}"
            if collection.unreadable:
                counts += f" · {collection.unreadable} cannot be read"
            text = f"{collection.name} — {counts}"
            item = QListWidgetItem(text, self.collection_list)
            item.setData(Qt.ItemDataRole.UserRole, collection.name)
            if collection.name == chosen or not chosen:
                self.collection_list.setCurrentItem(item)
                chosen = collection.name
        self._show_details()
        self.collections_changed.emit()

    def _show_details(self) -> None:
        name = self.current_name()
        has = bool(name)
        for button in (
            self.add_folder_button,
            self.add_file_button,
            self.reindex_button,
            self.remove_button,
        ):
            button.setEnabled(has)
        self.unreadable.clear()
        if not has:
            self.sources.setText("Add a folder of notes, papers or manuals to ask about them.")
            return
        collection = self.documents.collection(name)
        self.sources.setText(
            "Folders and files: "
            + ", ".join(collection.sources)
            + f"\nEmbedding model: {collection.embedding_model}"
        )
        for record in self.documents.unreadable(name):
            QListWidgetItem(f"{record.path} — {record.reason}", self.unreadable)

    def _with_current(self, action) -> None:
        name = self.current_name()
        if name:
            action(name)

    # -- actions -----------------------------------------------------------------------------

    def _new_collection(self) -> None:
        def named(name: str) -> None:
            name = name.strip()
            if name:
                dialogs.ask_item(
                    self,
                    f"Embedding model for “{name}”",
                    f"How passages are found: {EMBEDDING_NAME} is built in; or type a "
                    "sentence-transformers model\non the Hugging Face Hub (e.g. "
                    "BAAI/bge-small-en-v1.5), downloaded and converted once.",
                    installed_embedding_models(),
                    lambda model: self._with_model(name, model),
                    "embeddingModel",
                    editable=True,
                )

        dialogs.ask_text(
            self, "New collection", "Name of the collection:", "", named, "collectionName"
        )

    def _with_model(self, name: str, model: str) -> None:
        """Then the folder; a model still to download first asks to end offline mode."""
        try:
            model = check_model_name(model)
        except HuacayaError as exc:
            show_error(self, exc)
            return

        def start(folder: Path) -> None:
            self._new_name = name
            self.indexer.index(name, [folder], model)

        def choose_folder() -> None:
            dialogs.choose_folder(self, f"Add a folder to “{name}”", start)

        if self.settings.settings.offline and needs_download(model):

            def go_online() -> None:
                self.settings.update(offline=False)
                choose_folder()

            dialogs.confirm(
                self,
                "Use the Hugging Face Hub?",
                f"{model} is downloaded from the Hugging Face Hub, and Huacaya is offline.",
                go_online,
                "Yes turns offline mode off (Settings can turn it back on). Your documents "
                "never leave this computer: only the model is downloaded.",
                "goOnlineDialog",
            )
        else:
            choose_folder()

    def _add_folder(self) -> None:
        self._with_current(
            lambda name: dialogs.choose_folder(
                self, f"Add a folder to “{name}”", lambda p: self.indexer.index(name, [p])
            )
        )

    def _add_file(self) -> None:
        self._with_current(
            lambda name: dialogs.open_file(
                self, f"Add a file to “{name}”", lambda p: self.indexer.index(name, [p])
            )
        )

    def _remove(self) -> None:
        name = self.current_name()

        def remove() -> None:
            try:
                self.documents.remove(name)
            except HuacayaError as exc:
                show_error(self, exc)
            self.refresh()

        if name:
            dialogs.confirm(
                self,
                "Remove collection",
                f"Remove the collection “{name}”?",
                remove,
                "Only the index is deleted; your files are not touched.",
            )

    def _toggle_pause(self) -> None:
        if self.indexer.pause_token.paused:
            self.indexer.resume()
            self.pause_button.setText("Pause")
        else:
            self.indexer.pause()
            self.pause_button.setText("Resume")
            self.progress_label.setText(self.progress_label.text() + " — paused")

    # -- progress ----------------------------------------------------------------------------

    def _set_running(self, running: bool) -> None:
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.pause_button.setText("Pause")
            self.indexer.resume()

    def _on_started(self, name: str) -> None:
        self._set_running(True)
        self.progress.setValue(0)
        self.progress_label.setText(f"Indexing “{name}”…")

    def _on_preparing(self, message: str, fraction: float) -> None:
        self.pause_button.setEnabled(False)  # a download stops with Cancel and resumes later
        self.progress.setValue(int(1000 * fraction))
        self.progress_label.setText(message or "Preparing the embedding model…")

    def _on_status(self, status: IndexStatus) -> None:
        self.pause_button.setEnabled(True)
        total = max(status.files_total, 1)
        self.progress.setValue(int(1000 * status.files_done / total))
        current = Path(status.current).name if status.current else ""
        paused = " — paused" if self.indexer.pause_token.paused else ""
        self.progress_label.setText(
            f"“{status.collection}”: {status.describe()}"
            + (f" · {current}" if current else "")
            + paused  # a status sent just before Pause may arrive after it
        )

    def _on_finished(self, report: IndexReport) -> None:
        self._set_running(self.indexer.busy)
        self.progress.setValue(1000)
        self.progress_label.setText(f"“{report.collection}” is up to date: {report.describe()}")
        self.refresh()

    def _on_cancelled(self, name: str) -> None:
        self._set_running(self.indexer.busy)
        self.progress_label.setText(
            f"Stopped indexing “{name}”. What was indexed is kept; Reindex continues."
        )
        self.refresh()

    def _on_failed(self, name: str, error: HuacayaError) -> None:
        self._new_name = ""  # never made (its model could not be had, say)
        self._set_running(self.indexer.busy)
        self.progress_label.setText(f"Indexing “{name}” failed.")
        show_error(self, error)
        self.refresh()
