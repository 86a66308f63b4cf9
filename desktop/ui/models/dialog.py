"""The Models window: the catalogue, the Hugging Face Hub, installed models, imports and jobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core import hardware, secrets
from desktop.core.hub.client import HubClient
from desktop.core.jobs.store import JobSpec
from desktop.core.models.catalog import job_spec, load_catalog
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import SettingsStore
from desktop.ui import dialogs
from desktop.ui.errors import show_error
from desktop.ui.models.hub_tab import HubTab
from desktop.ui.models.import_tab import ImportTab
from desktop.ui.models.jobs import JobManager
from desktop.ui.models.jobs_table import JobsTable
from desktop.ui.models.widgets import quant_box, table


class ModelsDialog(QDialog):
    library_changed = Signal()
    unload_requested = Signal(str, object)  # model id, what to do once it is unloaded

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
        self.resize(900, 640)
        self.store, self.library, self.jobs = store, library, jobs
        self.loaded_model: Callable[[], ModelEntry | None] = lambda: None
        self.hub = HubClient(secrets.get_token, lambda: self.store.settings.offline)
        self.catalog = load_catalog()
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._catalog_tab(), "Catalogue")
        self.hub_tab = HubTab(store, self.hub)
        self.hub_tab.start_requested.connect(self.start)
        self.hub_tab.error.connect(lambda exc: show_error(self, exc))
        self.tabs.addTab(self.hub_tab, "Hugging Face")
        self.tabs.addTab(self._installed_tab(), "Installed")
        self.import_tab = ImportTab()
        self.import_tab.start_requested.connect(self.start)
        self.tabs.addTab(self.import_tab, "Import")
        self.jobs_view = JobsTable(jobs)
        self.jobs_table = self.jobs_view.table
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(QLabel("<b>Downloads and conversions</b>"))
        layout.addWidget(self.jobs_view)
        jobs.installed.connect(lambda _id: self.show_installed())

    # -- catalogue -------------------------------------------------------------------------

    def _catalog_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        total = hardware.total_memory_bytes() / 1e9
        layout.addWidget(
            QLabel(f"Models that run well on a laptop. This computer has {total:.0f} GB of memory.")
        )
        self.catalog_table = table(["Model", "Format", "Download", "Memory", "Licence", "Fits"])
        for entry in self.catalog:
            row = self.catalog_table.rowCount()
            self.catalog_table.insertRow(row)
            fits = entry.fits()
            cells = [
                entry.name + (" (needs a token)" if entry.token else ""),
                entry.format,
                f"{entry.download_gb:g} GB",
                f"{entry.ram_gb:g} GB",
                entry.licence,
                "✓ fits" if fits else "needs more memory",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(entry.notes + (f" Needs: {entry.base}." if entry.base else ""))
                if column == 5 and not fits:
                    item.setForeground(QColor("#c0392b"))
                self.catalog_table.setItem(row, column, item)
        layout.addWidget(self.catalog_table, 1)
        buttons = QHBoxLayout()
        self.catalog_quant = quant_box()
        buttons.addWidget(QLabel("Quantization"))
        buttons.addWidget(self.catalog_quant)
        buttons.addStretch(1)
        download = QPushButton("Download")
        download.setObjectName("catalogDownload")
        download.clicked.connect(self.download_catalog_entry)
        buttons.addWidget(download)
        layout.addLayout(buttons)
        return tab

    def download_catalog_entry(self) -> None:
        row = self.catalog_table.currentRow()
        if row < 0:
            return
        entry = self.catalog[row]
        quant = self.catalog_quant.currentData()
        if entry.needs_base_folder:
            dialogs.choose_folder(
                self,
                f"{entry.name} needs {entry.base}: choose that folder",
                lambda folder: self._start_catalog_entry(entry, quant, str(folder)),
            )
        else:
            self._start_catalog_entry(entry, quant, "")

    def _start_catalog_entry(self, entry, quant: str, base_folder: str) -> None:
        try:
            spec = job_spec(entry, quant, base_folder)
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self.start(spec)

    # -- installed -------------------------------------------------------------------------

    def _installed_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.installed_table = table(
            ["Model", "Quant", "Architecture", "Size", "Context", "Chat template"]
        )
        layout.addWidget(self.installed_table, 1)
        row = QHBoxLayout()
        self.folder_label = QLabel()
        row.addWidget(self.folder_label, 1)
        for label, slot in (
            ("Rename…", self.rename_selected),
            ("Delete…", self.delete_selected),
            ("Show in folder", self.reveal_selected),
            ("Models folder…", self.choose_folder),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            row.addWidget(button)
        layout.addLayout(row)
        self.show_installed()
        return tab

    def show_installed(self) -> None:
        selected = self._selected_model()  # kept selected across the refresh
        self.installed_table.setRowCount(0)
        self.folder_label.setText(f"Folder: {self.library.root}")
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
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                self.installed_table.setItem(row, column, item)
            if entry.id == selected:
                self.installed_table.selectRow(row)

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
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder or self.library.root)))

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
