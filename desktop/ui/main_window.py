"""The main window: model picker, transcript, composer with Send/Stop, and a status bar."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core import settings as settings_store
from desktop.core.engine import GenerationStats, ModelInfo
from desktop.core.errors import HuacayaError
from desktop.core.library import ModelEntry, ModelLibrary
from desktop.core.prompts import Message
from desktop.ui.chat_view import ChatView
from desktop.ui.composer import Composer
from desktop.ui.engine_worker import EngineController, LoadRequest
from desktop.ui.errors import show_error
from desktop.ui.tasks import run_in_background

log = logging.getLogger(__name__)

OPEN_FILE = "__open_file__"


def format_stats(stats: GenerationStats) -> str:
    return (
        f"{stats.generated_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · "
        f"first token {stats.time_to_first_token:.2f} s"
    )


class MainWindow(QMainWindow):
    model_ready = Signal(object)  # ModelInfo, once a model is loaded
    answer_finished = Signal(object)  # GenerationStats

    def __init__(self, library: ModelLibrary | None = None, initial_model: str = "") -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(900, 680)
        self.settings = settings_store.load()
        self.library = library or ModelLibrary()
        self.messages: list[Message] = []
        self.model_entry: ModelEntry | None = None
        self.model_info: ModelInfo | None = None
        self._loading_entry: ModelEntry | None = None
        self._answer_parts: list[str] = []
        self._initial_model = initial_model or self.settings.default_model

        self.engine = EngineController(self)
        self.engine.loaded.connect(self._on_model_loaded)
        self.engine.load_failed.connect(self._on_model_failed)
        self.engine.delta.connect(self._on_delta)
        self.engine.finished.connect(self._on_answer_finished)
        self.engine.failed.connect(self._on_answer_failed)

        self._build_toolbar()
        self._build_body()
        self._build_status_bar()
        self._update_controls()
        self._set_status("Preparing the model library…")
        run_in_background(self._prepare_library, self._on_library_ready, self._on_library_failed)

    # -- layout ----------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)

        self.new_chat_action = QAction("New chat", self)
        self.new_chat_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_chat_action.triggered.connect(self.new_chat)
        bar.addAction(self.new_chat_action)

        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Model ", self))
        self.model_picker = QComboBox(self)
        self.model_picker.setObjectName("modelPicker")
        self.model_picker.setMinimumContentsLength(28)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_picker.activated.connect(self._on_model_picked)
        bar.addWidget(self.model_picker)

        self.open_model_action = QAction("Open model file…", self)
        self.open_model_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_model_action.triggered.connect(self.choose_model_file)
        self.addAction(self.open_model_action)

        stop_action = QAction("Stop", self)
        stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        stop_action.triggered.connect(self.stop_answer)
        self.addAction(stop_action)

    def _build_body(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.chat_view = ChatView(body)
        layout.addWidget(self.chat_view, 1)

        row = QHBoxLayout()
        row.setContentsMargins(12, 8, 12, 12)
        self.composer = Composer(body)
        self.composer.submitted.connect(self.send)
        row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Send", body)
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(False)
        self.send_button.setAutoDefault(False)
        self.send_button.clicked.connect(self._on_send_button)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
        self.setCentralWidget(body)
        self.composer.setFocus()

    def _build_status_bar(self) -> None:
        self.status_label = QLabel(self)
        self.stats_label = QLabel(self)
        self.stats_label.setObjectName("statsLabel")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.stats_label)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _update_controls(self) -> None:
        generating = self.engine.generating
        ready = self.model_info is not None and not self.engine.busy
        self.send_button.setText("Stop" if generating else "Send")
        self.send_button.setEnabled(generating or ready)
        self.model_picker.setEnabled(not self.engine.busy)
        self.new_chat_action.setEnabled(not generating)

    # -- model library and loading ---------------------------------------------------------

    def _prepare_library(self) -> list[ModelEntry]:
        self.library.ensure_starter()
        return self.library.entries()

    def _on_library_ready(self, entries: list[ModelEntry]) -> None:
        self._fill_picker(entries)
        if not entries:
            self._set_status("No model installed — open a .gguf file (Ctrl+O).")
            return
        preferred = next((e for e in entries if self._initial_model in (e.id, e.name)), None)
        self.load_model(preferred or entries[0])

    def _on_library_failed(self, exc: BaseException) -> None:
        self._set_status("The model library could not be read.")
        show_error(self, exc)

    def _fill_picker(self, entries: list[ModelEntry], current: str = "") -> None:
        self.model_picker.clear()
        for entry in entries:
            self.model_picker.addItem(entry.name, entry.id)
        self.model_picker.insertSeparator(self.model_picker.count())
        self.model_picker.addItem("Open model file…", OPEN_FILE)
        self._select_in_picker(current)

    def _select_in_picker(self, model_id: str) -> None:
        index = self.model_picker.findData(model_id)
        if index >= 0:
            self.model_picker.setCurrentIndex(index)

    def _on_model_picked(self, index: int) -> None:
        model_id = self.model_picker.itemData(index)
        if model_id == OPEN_FILE:
            self._select_in_picker(self.model_entry.id if self.model_entry else "")
            self.choose_model_file()
            return
        if self.model_entry is not None and model_id == self.model_entry.id:
            return
        try:
            self.load_model(self.library.get(model_id))
        except HuacayaError as exc:
            show_error(self, exc)

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.open_model_file(Path(path))

    def open_model_file(self, path: Path) -> None:
        """Check ``path`` off the GUI thread, add it to the library and load it."""
        self._set_status(f"Checking {path.name}…")
        run_in_background(
            lambda: self.library.add_file(path), self._on_file_added, self._on_file_rejected
        )

    def _on_file_added(self, entry: ModelEntry) -> None:
        self._fill_picker(self.library.entries(), self.model_entry.id if self.model_entry else "")
        self.load_model(entry)

    def _on_file_rejected(self, exc: BaseException) -> None:
        self._set_status("That file is not a usable model.")
        show_error(self, exc, "Cannot open this model")

    def load_model(self, entry: ModelEntry) -> None:
        if self.engine.busy:
            return
        try:
            path = self.library.path_of(entry)
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self._loading_entry = entry
        self._select_in_picker(entry.id)
        self._set_status(f"Loading {entry.name}…")
        self.engine.load(
            LoadRequest(
                path=path,
                context_length=self.settings.context_length,
                threads=self.settings.threads,
                gpu_layers=self.settings.gpu_layers,
            )
        )
        self._update_controls()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        assert self._loading_entry is not None
        self.model_entry = self._loading_entry
        self.model_info = info
        self._select_in_picker(self.model_entry.id)
        self._set_status(
            f"{self.model_entry.name} · context {info.context_length:,} tokens · "
            f"{info.threads} threads"
        )
        self._update_controls()
        self.model_ready.emit(info)

    def _on_model_failed(self, error: HuacayaError) -> None:
        name = self._loading_entry.name if self._loading_entry else "the model"
        if self.model_entry is not None:
            self._set_status(f"Could not load {name}; {self.model_entry.name} is unloaded too.")
        else:
            self._set_status(f"Could not load {name}.")
        self.model_info = None
        self.model_entry = None
        self._update_controls()
        show_error(self, error, "Cannot load this model")

    # -- chatting --------------------------------------------------------------------------

    def _on_send_button(self) -> None:
        if self.engine.generating:
            self.stop_answer()
        else:
            self.composer.submit()

    def send(self, text: str) -> None:
        if self.engine.busy or self.model_info is None:
            if self.model_info is None:
                self._set_status("Load a model before asking.")
            return
        self.composer.clear()
        self.messages.append({"role": "user", "content": text})
        self.chat_view.add_user_message(text)
        self._answer_parts = []
        assert self.model_entry is not None
        self.chat_view.begin_answer(self.model_entry.name)
        self.engine.generate(self.messages, self.settings.generation)
        self.stats_label.setText("Thinking…")
        self._update_controls()

    def stop_answer(self) -> None:
        self.engine.stop()

    def _on_delta(self, text: str) -> None:
        self._answer_parts.append(text)
        self.chat_view.append_delta(text)

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        answer = "".join(self._answer_parts).strip()
        self.messages.append({"role": "assistant", "content": answer})
        note = ""
        if stats.finish_reason == "cancelled":
            note = "(stopped)"
        elif stats.finish_reason == "length":
            note = "(reached the answer length limit)"
        self.chat_view.end_answer(note)
        self.stats_label.setText(format_stats(stats))
        self._update_controls()
        self.composer.setFocus()
        self.answer_finished.emit(stats)

    def _on_answer_failed(self, error: HuacayaError) -> None:
        question = self.messages.pop()  # back into the composer, to try again
        if not self.composer.toPlainText().strip():
            self.composer.setPlainText(question["content"])
        self.chat_view.end_answer("(failed)")
        self.stats_label.clear()
        self._update_controls()
        show_error(self, error)

    def new_chat(self) -> None:
        if self.engine.generating:
            return
        self.messages.clear()
        self.chat_view.clear_conversation()
        self.stats_label.clear()
        self.composer.setFocus()

    # -- shutdown --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.engine.shutdown()
        super().closeEvent(event)
