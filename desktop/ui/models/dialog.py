"""The Models window: the catalogue, the Hugging Face Hub, installed models, imports and jobs."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import psutil
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from conversion.gguf_file import read_gguf_info
from desktop.core import secrets
from desktop.core.chat.engine import ModelInfo
from desktop.core.hub.client import HubClient
from desktop.core.jobs.store import JobSpec
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import SettingsStore
from desktop.server.memory import OVERHEAD_BYTES, kv_cache_bytes
from desktop.ui import dialogs
from desktop.ui.errors import show_error
from desktop.ui.models.catalog_tab import CatalogTab
from desktop.ui.models.hub_tab import HubTab
from desktop.ui.models.import_tab import ImportTab
from desktop.ui.models.jobs import JobManager
from desktop.ui.models.jobs_table import JobsTable
from desktop.ui.models.widgets import table
from desktop.ui.open_path import open_path
from desktop.ui.screen_fit import keep_fitted

INSTALLED_COLUMNS = ["Model", "Quant", "Architecture", "Size", "Context", "Chat template", "Now"]


def gb(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.0f} MB"


def _button(text: str, slot: Callable[[], object], name: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)
    if name:
        button.setObjectName(name)
    button.clicked.connect(lambda _checked=False: slot())
    return button


class ModelsDialog(QDialog):
    library_changed = Signal()
    unload_requested = Signal(str, object)  # model id, what to do once it is unloaded
    load_requested = Signal(str)  # model id: the person pressed Load
    eject_requested = Signal()  # the person pressed Unload

    def __init__(
        self,
        parent: QWidget | None,
        store: SettingsStore,
        library: ModelLibrary,
        jobs: JobManager,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Models")
        self.store, self.library, self.jobs = store, library, jobs
        self.loaded_model: Callable[[], ModelEntry | None] = lambda: None
        self.loaded_info: Callable[[], ModelInfo | None] = lambda: None
        self.hub = HubClient(secrets.get_token, lambda: self.store.settings.offline)
        self.tabs = QTabWidget(self)
        self.catalog_tab = CatalogTab()
        self.catalog_tab.start_requested.connect(self.start)
        self.catalog_tab.error.connect(lambda exc: show_error(self, exc))
        self.catalog_table = self.catalog_tab.table
        self.tabs.addTab(self.catalog_tab, "Catalogue")
        self.hub_tab = HubTab(store, self.hub)
        self.hub_tab.start_requested.connect(self.start)
        self.hub_tab.error.connect(lambda exc: show_error(self, exc))
        self.tabs.addTab(self.hub_tab, "Hugging Face")
        self.tabs.addTab(self._installed_tab(), "Installed")
        self.import_tab = ImportTab(library)
        self.import_tab.start_requested.connect(self.start)
        self.import_tab.error.connect(lambda exc: show_error(self, exc))
        self.tabs.addTab(self.import_tab, "Import")
        self.jobs_view = JobsTable(jobs)
        self.jobs_table = self.jobs_view.table
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.jobs_view)
        jobs.installed.connect(lambda _id: self.show_installed())
        keep_fitted(self, QSize(900, 640))  # (within the screen, at every font size)

    # -- installed -------------------------------------------------------------------------

    def _installed_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.installed_table = table(INSTALLED_COLUMNS)
        self.installed_table.currentCellChanged.connect(lambda *_: self._enable())
        layout.addWidget(self.installed_table, 1)
        self.memory_label = QLabel()
        self.memory_label.setObjectName("loadedModelMemory")
        self.memory_label.setWordWrap(True)
        layout.addWidget(self.memory_label)
        row = QHBoxLayout()
        self.load_button = _button("Load", self.load_selected, "loadModel")
        self.unload_button = _button("Unload", self.eject_requested.emit, "unloadModel")
        row.addWidget(self.load_button)
        row.addWidget(self.unload_button)
        row.addStretch(1)
        for label, slot in (("Rename…", self.rename_selected), ("Delete…", self.delete_selected)):
            row.addWidget(_button(label, slot))
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folder"))
        self.folder_box = QLineEdit()  # a long path scrolls in the box; the window stays on screen
        self.folder_box.setObjectName("modelsFolder")
        self.folder_box.setReadOnly(True)
        row.addWidget(self.folder_box, 1)
        row.addWidget(_button("Show in folder", self.reveal_selected))
        row.addWidget(_button("Models folder…", self.choose_folder))
        layout.addLayout(row)
        self.show_installed()
        return tab

    def show_installed(self) -> None:
        selected = self._selected_model()  # kept selected across the refresh
        loaded = self.loaded_model()
        self.installed_table.setRowCount(0)
        self.folder_box.setText(str(self.library.root))
        self.folder_box.setCursorPosition(0)
        for entry in self.library.entries():
            row = self.installed_table.rowCount()
            self.installed_table.insertRow(row)
            cells = [
                entry.name,
                entry.quantization,
                entry.architecture,
                f"{entry.size_bytes / 1e6:,.0f} MB",
                f"{entry.context_length:,}",
                "yes" if entry.has_chat_template else "no (Alpaca)",
                "loaded" if loaded is not None and loaded.id == entry.id else "",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                self.installed_table.setItem(row, column, item)
            if entry.id == selected:
                self.installed_table.selectRow(row)
        self.memory_label.setText(self._memory_text(loaded))
        self._enable()

    def _memory_text(self, loaded: ModelEntry | None) -> str:
        info = self.loaded_info()
        process = psutil.Process().memory_info().rss
        free = psutil.virtual_memory()
        machine = (
            f"Huacaya uses {gb(process)} in all; {gb(free.available)} of {gb(free.total)} of "
            "this computer's memory is free."
        )
        if loaded is None or info is None:
            return f"No model is loaded. {machine}"
        try:
            cache = kv_cache_bytes(read_gguf_info(info.path), info.context_length)
        except HuacayaError:
            cache = 0
        weights = loaded.size_bytes
        total = weights + cache + OVERHEAD_BYTES
        return (
            f"Loaded: <b>{html.escape(loaded.name)}</b>, about {gb(total)} of memory "
            f"({gb(weights)} of weights, {gb(cache)} of context cache for "
            f"{info.context_length:,} tokens, working space). {machine}"
        )

    def _enable(self) -> None:
        selected, loaded = self._selected_model(), self.loaded_model()
        self.load_button.setEnabled(
            selected is not None and (loaded is None or loaded.id != selected)
        )
        self.unload_button.setEnabled(loaded is not None)

    def load_selected(self) -> None:
        model_id = self._selected_model()
        if model_id:
            self.load_requested.emit(model_id)

    def _selected_model(self) -> str | None:
        chosen = self.installed_table.item(self.installed_table.currentRow(), 0)
        return chosen.data(Qt.ItemDataRole.UserRole) if chosen is not None else None

    def rename_selected(self) -> None:
        model_id = self._selected_model()
        if model_id:

            def rename(name: str) -> None:
                if name.strip():
                    self.library.rename(model_id, name)
                    self.show_installed()
                    self.library_changed.emit()

            dialogs.ask_text(
                self,
                "Rename model",
                "New name for this model:",
                self.library.get(model_id).name,
                rename,
                "renameModelDialog",
            )

    def delete_selected(self) -> None:
        model_id = self._selected_model()
        if not model_id:
            return
        entry = self.library.get(model_id)
        loaded = self.loaded_model()
        dialogs.confirm(
            self,
            "Delete model",
            f"Delete “{entry.name}” and its files from this computer?",
            lambda: self.unload_requested.emit(model_id, lambda: self._remove(model_id)),
            "It is loaded now: it will be unloaded first."
            if loaded is not None and loaded.id == model_id
            else "",
            "deleteModelDialog",
        )

    def _remove(self, model_id: str) -> None:
        try:
            self.library.remove(model_id)
        except HuacayaError as exc:
            show_error(self, exc)
        except OSError as exc:
            show_error(self, HuacayaError(f"The model's files could not be deleted: {exc}."))
        self.show_installed()
        self.library_changed.emit()

    def reveal_selected(self) -> None:
        model_id = self._selected_model()
        folder = self.library.path_of(self.library.get(model_id)).parent if model_id else None
        open_path(self, folder or self.library.root)

    def choose_folder(self) -> None:
        dialogs.choose_folder(self, "Models folder", self._use_folder, self.library.root)

    def _use_folder(self, folder: Path) -> None:
        if folder:
            self.store.update(models_folder=str(folder))
            self.library.root = folder
            self.library.root.mkdir(parents=True, exist_ok=True)
            self.show_installed()
            self.library_changed.emit()

    # -- jobs ------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        if spec.kind == "hub" and self.store.settings.offline:
            self.tabs.setCurrentWidget(self.hub_tab)
            self.hub_tab.hub_status.setText(
                "Offline mode is on, so nothing was downloaded: switch it off above to download."
            )
            return
        try:
            self.jobs.start(spec)
        except HuacayaError as exc:  # a bad spec: shown, nothing started
            show_error(self, exc)
