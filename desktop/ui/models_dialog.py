"""The Models window: the catalogue, the Hugging Face Hub, installed models, imports and jobs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core import hardware, secrets
from desktop.core import settings as settings_store
from desktop.core.catalog import job_spec, load_catalog
from desktop.core.errors import HuacayaError
from desktop.core.hub import HubClient, SearchResult
from desktop.core.jobs import JobSpec
from desktop.core.library import ModelLibrary
from desktop.ui.errors import show_error
from desktop.ui.import_tab import ImportTab
from desktop.ui.job_process import JobManager
from desktop.ui.jobs_table import JobsTable
from desktop.ui.model_widgets import quant_box, table
from desktop.ui.tasks import run_in_background


class ModelsDialog(QDialog):
    library_changed = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        settings,
        library: ModelLibrary,  # type: ignore[no-untyped-def]
        jobs: JobManager,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Models")
        self.resize(900, 600)
        self.settings, self.library, self.jobs = settings, library, jobs
        self.hub = HubClient(secrets.get_token, lambda: self.settings.offline)
        self.catalog = load_catalog()
        tabs = QTabWidget(self)
        tabs.addTab(self._catalog_tab(), "Catalogue")
        tabs.addTab(self._hub_tab(), "Hugging Face")
        tabs.addTab(self._installed_tab(), "Installed")
        self.import_tab = ImportTab()
        self.import_tab.start_requested.connect(self.start)
        tabs.addTab(self.import_tab, "Import")
        self.jobs_view = JobsTable(jobs)
        self.jobs_table = self.jobs_view.table
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(QLabel("<b>Downloads and conversions</b>"))
        layout.addWidget(self.jobs_table)
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
        row = QHBoxLayout()
        self.catalog_quant = quant_box()
        row.addWidget(QLabel("Quantization"))
        row.addWidget(self.catalog_quant)
        row.addStretch(1)
        download = QPushButton("Download")
        download.setObjectName("catalogDownload")
        download.clicked.connect(self.download_catalog_entry)
        row.addWidget(download)
        layout.addLayout(row)
        return tab

    def download_catalog_entry(self) -> None:
        row = self.catalog_table.currentRow()
        if row < 0:
            return
        entry = self.catalog[row]
        base_folder = ""
        if entry.needs_base_folder:
            base_folder = QFileDialog.getExistingDirectory(
                self, f"{entry.name} needs {entry.base}: choose that folder"
            )
            if not base_folder:
                return
        try:
            spec = job_spec(entry, self.catalog_quant.currentData(), base_folder)
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self.start(spec)

    # -- the Hub ---------------------------------------------------------------------------

    def _hub_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.offline_label = QLabel()
        layout.addWidget(self.offline_label)
        row = QHBoxLayout()
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search the Hub, e.g. alpaca, smollm2, llama gguf")
        self.search_box.returnPressed.connect(self.search)
        row.addWidget(self.search_box, 1)
        self.gguf_only = QCheckBox("GGUF only")
        self.llama_only = QCheckBox("LLaMA family")
        self.max_size = QComboBox()
        for label, limit in (("any size", 0.0), ("≤ 1B", 1e9), ("≤ 3B", 3e9), ("≤ 8B", 8e9)):
            self.max_size.addItem(label, limit)
        row.addWidget(self.gguf_only)
        row.addWidget(self.llama_only)
        row.addWidget(self.max_size)
        search = QPushButton("Search")
        search.clicked.connect(self.search)
        row.addWidget(search)
        layout.addLayout(row)
        self.results_table = table(["Repository", "Size", "Likes", "Downloads", "Licence", "Kind"])
        layout.addWidget(self.results_table, 1)
        row = QHBoxLayout()
        self.repo_box = QLineEdit()
        self.repo_box.setPlaceholderText("or paste a repository id: owner/name")
        row.addWidget(self.repo_box, 1)
        self.hub_quant = quant_box()
        row.addWidget(self.hub_quant)
        download = QPushButton("Download")
        download.setObjectName("hubDownload")
        download.clicked.connect(self.download_from_hub)
        row.addWidget(download)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.token_box = QLineEdit()
        self.token_box.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_box.setPlaceholderText("Hugging Face token, for gated or private models")
        row.addWidget(self.token_box, 1)
        save = QPushButton("Save token")
        save.clicked.connect(self.save_token)
        row.addWidget(save)
        self.token_label = QLabel()
        row.addWidget(self.token_label)
        layout.addLayout(row)
        self._show_online_state()
        return tab

    def _show_online_state(self) -> None:
        self.offline_label.setText(
            "Offline mode is on: nothing is sent over the network. Searching or downloading "
            "turns it off."
            if self.settings.offline
            else "Online: the Hub can be used."
        )
        has_token = secrets.get_token() is not None
        where = "in the keychain" if secrets.token_is_persistent() else "for this session only"
        self.token_label.setText(f"token stored {where}" if has_token else "no token")

    def go_online(self) -> None:
        if self.settings.offline:
            self.settings.offline = False
            settings_store.save(self.settings)
            self._show_online_state()

    def search(self) -> None:
        self.go_online()
        query, gguf, llama = (
            self.search_box.text(),
            self.gguf_only.isChecked(),
            self.llama_only.isChecked(),
        )
        run_in_background(
            lambda: self.hub.search(query, gguf, llama),
            self.show_results,
            lambda exc: show_error(self, exc),
        )

    def show_results(self, results: list[SearchResult]) -> None:
        self.results_table.setRowCount(0)
        for result in results:
            row = self.results_table.rowCount()
            self.results_table.insertRow(row)
            kind = "GGUF" if result.gguf else "checkpoint"
            cells = [
                result.repo_id + (" (gated)" if result.gated else ""),
                str(result.likes),
                str(result.downloads),
                result.license,
                kind,
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, result.repo_id)
                self.results_table.setItem(row, column, item)

    def download_from_hub(self) -> None:
        repo = self.repo_box.text().strip()
        if not repo and self.results_table.currentRow() >= 0:
            repo = self.results_table.item(self.results_table.currentRow(), 0).data(
                Qt.ItemDataRole.UserRole
            )
        if not repo:
            return
        self.go_online()
        quant = self.hub_quant.currentData()
        run_in_background(
            lambda: self.hub.repo_info(repo),
            lambda info: self._download_repo(info, quant),
            lambda exc: show_error(self, exc),
        )

    def _download_repo(self, info, quant: str) -> None:  # type: ignore[no-untyped-def]
        ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
        if ggufs and not info.has_weights:
            choice, ok = QInputDialog.getItem(
                self, "Choose a file", f"{info.repo_id} offers:", ggufs, 0, False
            )
            if not ok:
                return
            self.start(JobSpec("hub", info.repo_id, quant="", gguf_file=choice))
        else:
            self.start(JobSpec("hub", info.repo_id, quant=quant))

    def save_token(self) -> None:
        token = self.token_box.text().strip()
        if not token:
            return
        self.go_online()

        def saved(name: str) -> None:
            secrets.set_token(token)
            self.token_box.clear()
            self._show_online_state()
            self.token_label.setText(f"{self.token_label.text()} ({name})")

        run_in_background(lambda: self.hub.whoami(token), saved, lambda e: show_error(self, e))

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

    def _selected_model(self) -> str | None:
        row = self.installed_table.currentRow()
        return (
            self.installed_table.item(row, 0).data(Qt.ItemDataRole.UserRole) if row >= 0 else None
        )

    def rename_selected(self) -> None:
        model_id = self._selected_model()
        if model_id:
            name, ok = QInputDialog.getText(
                self, "Rename model", "Name:", text=self.library.get(model_id).name
            )
            if ok and name.strip():
                self.library.rename(model_id, name)
                self.show_installed()
                self.library_changed.emit()

    def delete_selected(self) -> None:
        model_id = self._selected_model()
        if not model_id:
            return
        entry = self.library.get(model_id)
        answer = QMessageBox.question(
            self, "Delete model", f"Delete “{entry.name}” and its files from this computer?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            try:
                self.library.remove(model_id)
            except Exception as exc:  # shown to the user
                show_error(self, exc)
            self.show_installed()
            self.library_changed.emit()

    def reveal_selected(self) -> None:
        model_id = self._selected_model()
        folder = self.library.path_of(self.library.get(model_id)).parent if model_id else None
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder or self.library.root)))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", str(self.library.root))
        if folder:
            self.settings.models_folder = folder
            settings_store.save(self.settings)
            self.library.root = Path(folder)
            self.library.root.mkdir(parents=True, exist_ok=True)
            self.show_installed()
            self.library_changed.emit()

    # -- import ----------------------------------------------------------------------------

    # -- jobs ------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        try:
            self.jobs.start(spec)
        except Exception as exc:  # a bad spec: shown, nothing started
            show_error(self, exc)
        self._show_online_state()
