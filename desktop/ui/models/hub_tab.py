"""The Models window's Hugging Face tab: the offline switch, search with filters, download by
result or repository id, and the access token.

Offline mode is a switch the user sees and can flip both ways; while it is on, a search or a
download says so at once and sends nothing. One search runs at a time (Enter in the box and the
Search button are one request, not two). While the Hub is being asked anything (a search, a
repository's files, a token check), Stop beside the status line stops it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core import secrets
from desktop.core.hub.client import HubClient, RepoInfo, SearchResult
from desktop.core.jobs.store import JobSpec
from desktop.core.settings import SettingsStore
from desktop.ui import dialogs
from desktop.ui.background.tasks import Task, Work, run_in_background
from desktop.ui.models.widgets import quant_box, table

SIZE_LIMITS = (("any size", 0.0), ("≤ 1B", 1e9), ("≤ 3B", 3e9), ("≤ 8B", 8e9))
COLUMNS = ["Repository", "Size", "Likes", "Downloads", "Licence", "Kind"]


def _button(text: str, slot: Callable[[], None], name: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)  # Enter in a box must not also press a button
    button.setDefault(False)
    if name:
        button.setObjectName(name)
    button.clicked.connect(lambda _checked=False: slot())
    return button


class HubTab(QWidget):
    start_requested = Signal(object)  # JobSpec
    error = Signal(object)  # an exception to show

    def __init__(self, store: SettingsStore, hub: HubClient, parent: QWidget | None = None):
        super().__init__(parent)
        self.store, self.hub = store, hub
        self.searching = False
        layout = QVBoxLayout(self)
        self.offline = QCheckBox("Offline mode: Huacaya makes no network connection at all")
        self.offline.setObjectName("offlineSwitch")
        self.offline.setChecked(store.settings.offline)
        self.offline.toggled.connect(lambda on: self.store.update(offline=on))
        layout.addWidget(self.offline)
        row = QHBoxLayout()
        self.search_box = QLineEdit()
        self.search_box.setObjectName("hubSearchBox")
        self.search_box.setPlaceholderText("Search the Hub, e.g. alpaca, smollm2, llama gguf")
        self.search_box.returnPressed.connect(self.search)
        row.addWidget(self.search_box, 1)
        self.gguf_only = QCheckBox("GGUF only")
        self.llama_only = QCheckBox("LLaMA family")
        self.max_size = QComboBox()
        for label, limit in SIZE_LIMITS:
            self.max_size.addItem(label, limit)
        row.addWidget(self.gguf_only)
        row.addWidget(self.llama_only)
        row.addWidget(self.max_size)
        self.search_button = _button("Search", self.search, "hubSearch")
        row.addWidget(self.search_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.hub_status = QLabel()
        self.hub_status.setObjectName("hubStatus")
        self.hub_status.setWordWrap(True)
        row.addWidget(self.hub_status, 1)
        self.stop_button = _button("Stop", self.stop, "hubStop")
        policy = self.stop_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # nothing below moves when it comes and goes
        self.stop_button.setSizePolicy(policy)
        self.stop_button.hide()
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.requests: set[Task] = set()  # to the Hub, running now
        self.results_table = table(COLUMNS)
        layout.addWidget(self.results_table, 1)
        row = QHBoxLayout()
        self.repo_box = QLineEdit()
        self.repo_box.setPlaceholderText("or paste a repository id: owner/name")
        row.addWidget(self.repo_box, 1)
        self.hub_quant = quant_box()
        row.addWidget(self.hub_quant)
        row.addWidget(_button("Download", self.download, "hubDownload"))
        layout.addLayout(row)
        row = QHBoxLayout()
        self.token_box = QLineEdit()
        self.token_box.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_box.setPlaceholderText("Hugging Face token, for gated or private models")
        row.addWidget(self.token_box, 1)
        row.addWidget(_button("Save token", self.save_token, "saveToken"))
        self.token_label = QLabel()
        row.addWidget(self.token_label)
        layout.addLayout(row)
        self.show_state()
        unsubscribe = store.subscribe(self._on_settings_changed)
        self.destroyed.connect(lambda *_: unsubscribe())

    def _on_settings_changed(self, changed: set[str]) -> None:
        if "offline" in changed:
            self.show_state()

    def show_state(self) -> None:
        offline = self.store.settings.offline
        if self.offline.isChecked() != offline:
            self.offline.setChecked(offline)
        self.hub_status.setText(
            "Offline mode is on: searching and downloading are off until you switch it off."
            if offline
            else ""
        )
        where = secrets.token_location()
        self.token_label.setText(f"token {where}" if where else "no token")

    def _refuse_offline(self, what: str) -> bool:
        if not self.store.settings.offline:
            return False
        self.hub_status.setText(
            f"Offline mode is on, so nothing was sent: switch it off above to {what}."
        )
        return True

    # -- requests to the Hub ---------------------------------------------------------------

    def _ask_hub(
        self,
        work: Work,
        on_success: Callable[[Any], object],
        on_failure: Callable[[BaseException], object],
    ) -> Task:
        """Run ``work`` (a Hub call given the request's cancel token) off the GUI thread, with
        Stop offered until it ends."""
        task = run_in_background(
            work, on_success, on_failure, on_cancelled=self._stopped, owner=self
        )
        self.requests.add(task)
        task.ended.connect(lambda: self._request_ended(task))
        self.stop_button.show()
        return task

    def stop(self) -> None:
        """Stop every request to the Hub that is running; nothing of theirs is shown."""
        for task in self.requests:
            task.cancel()

    def _stopped(self) -> None:
        self.hub_status.setText("Stopped.")

    def _request_ended(self, task: Task) -> None:
        self.requests.discard(task)
        self.stop_button.setVisible(bool(self.requests))

    # -- search ----------------------------------------------------------------------------

    def search(self) -> None:
        if self.searching or self._refuse_offline("search the Hub"):
            return
        query, gguf, llama = (
            self.search_box.text().strip(),
            self.gguf_only.isChecked(),
            self.llama_only.isChecked(),
        )
        limit = float(self.max_size.currentData()) or None
        self.searching = True
        self.search_button.setEnabled(False)
        self.hub_status.setText("Searching the Hub…")
        task = self._ask_hub(
            lambda _progress, cancel: self.hub.search(
                query, gguf, llama, max_parameters=limit, cancel=cancel
            ),
            self.show_results,
            self._failed,
        )
        task.ended.connect(self._search_done)

    def _search_done(self) -> None:
        self.searching = False
        self.search_button.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        self.hub_status.setText(str(exc) if isinstance(exc, HuacayaError) else "The search failed.")
        self.error.emit(exc)

    def show_results(self, results: list[SearchResult]) -> None:
        self.hub_status.setText(f"{len(results)} repositories." if results else "Nothing found.")
        self.results_table.setRowCount(0)
        for result in results:
            row = self.results_table.rowCount()
            self.results_table.insertRow(row)
            cells = [
                result.repo_id + (" (gated)" if result.gated else ""),
                result.size_label,
                str(result.likes),
                str(result.downloads),
                result.license,
                "GGUF" if result.gguf else "checkpoint",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, result.repo_id)
                self.results_table.setItem(row, column, item)

    # -- download --------------------------------------------------------------------------

    def download(self) -> None:
        repo = self.repo_box.text().strip()
        chosen = self.results_table.item(self.results_table.currentRow(), 0)
        if not repo and chosen is not None:
            repo = chosen.data(Qt.ItemDataRole.UserRole)
        if not repo or self._refuse_offline("download"):
            return
        quant = self.hub_quant.currentData()
        self.hub_status.setText(f"Looking up {repo}…")
        self._ask_hub(
            lambda _progress, cancel: self.hub.repo_info(repo, cancel=cancel),
            lambda info: self._download_repo(info, quant),
            self._failed,
        )

    def _download_repo(self, info: RepoInfo, quant: str) -> None:
        self.hub_status.setText("")
        ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
        has_weights = any(f.name.endswith(".safetensors") for f in info.files)
        if ggufs and not has_weights:
            dialogs.ask_item(
                self,
                "Choose a file",
                f"{info.repo_id} offers these GGUF files:",
                ggufs,
                lambda choice: self.start_requested.emit(
                    JobSpec("hub", info.repo_id, quant="", gguf_file=choice)
                ),
                "ggufChoice",
            )
        else:
            self.start_requested.emit(JobSpec("hub", info.repo_id, quant=quant))

    # -- token -----------------------------------------------------------------------------

    def save_token(self) -> None:
        token = self.token_box.text().strip()
        if not token or self._refuse_offline("check the token with the Hub"):
            return

        def saved(name: str) -> None:
            secrets.set_token(token)
            self.token_box.clear()
            self.show_state()
            self.token_label.setText(f"{self.token_label.text()} ({name})")

        self._ask_hub(
            lambda _progress, cancel: self.hub.whoami(token, cancel),
            saved,
            self.error.emit,
        )
