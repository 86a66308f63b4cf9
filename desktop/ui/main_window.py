"""The main window: conversations on the left; the model picker, transcript, composer and
status bar on the right. The work happens elsewhere: the model library and file checks in
background tasks, the model on its engine thread, the conversation in ConversationController."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core import settings as settings_store
from desktop.core.engine import GenerationStats, ModelInfo
from desktop.core.errors import HuacayaError
from desktop.core.history import History
from desktop.core.library import ModelEntry, ModelLibrary, library_for
from desktop.ui.chat_view import ChatView
from desktop.ui.composer import Composer
from desktop.ui.conversation import ConversationController
from desktop.ui.engine_worker import EngineController, LoadRequest
from desktop.ui.errors import show_error
from desktop.ui.job_process import JobManager
from desktop.ui.model_picker import ModelPicker
from desktop.ui.models_dialog import ModelsDialog
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.sidebar import Sidebar
from desktop.ui.tasks import run_in_background
from desktop.ui.theme import apply_theme

log = logging.getLogger(__name__)


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
        self.resize(1100, 720)
        self.settings = settings_store.load()
        self.library = library or library_for(self.settings.models_folder)
        self.history = History()
        self.history.purge_deleted()  # leftovers of a session that ended during an undo
        self.model_entry: ModelEntry | None = None
        self.model_info: ModelInfo | None = None
        self._loading_entry: ModelEntry | None = None
        self._editing: int | None = None  # index of the question being edited
        self._initial_model = initial_model or self.settings.default_model

        self.jobs = JobManager(self.settings, self)
        self.jobs.installed.connect(self._on_model_installed)
        self.models_dialog: ModelsDialog | None = None
        self.engine = EngineController(self)
        self.engine.loaded.connect(self._on_model_loaded)
        self.engine.load_failed.connect(self._on_model_failed)
        self._build()
        self.conversation = ConversationController(
            self.history, self.chat_view, self.engine, self.settings
        )
        self.conversation.conversations_changed.connect(self.refresh_sidebar)
        self.conversation.answer_finished.connect(self._on_answer_finished)
        self.conversation.answer_failed.connect(self._on_answer_failed)
        self.conversation.question_returned.connect(self._return_question)
        self._restore_state()
        self._update_controls()
        self._set_status("Preparing the model library…")
        run_in_background(self._prepare_library, self._on_library_ready, self._on_library_failed)
        resumed = self.jobs.resume_unfinished()
        if resumed:
            self._set_status(f"Resuming {len(resumed)} model download(s) — see Models.")

    @property
    def messages(self) -> list:  # type: ignore[type-arg]
        return self.conversation.messages

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Model ", self))
        self.model_picker = ModelPicker(self)
        self.model_picker.model_chosen.connect(self._on_model_picked)
        self.model_picker.open_file_requested.connect(self.choose_model_file)
        bar.addWidget(self.model_picker)
        models_action = bar.addAction("Models…", self.open_models)
        models_action.setShortcut(QKeySequence("Ctrl+M"))
        settings_action = bar.addAction("Settings…", self.open_settings)
        settings_action.setShortcut(QKeySequence.StandardKey.Preferences)

        for keys, slot in (
            (QKeySequence.StandardKey.New, self.new_chat),
            (QKeySequence.StandardKey.Find, lambda: self.sidebar.focus_search()),
            (QKeySequence.StandardKey.Open, self.choose_model_file),
            (QKeySequence(Qt.Key.Key_Escape), self.stop_answer),
        ):
            action = QAction(self)
            action.setShortcut(keys)
            action.triggered.connect(slot)
            self.addAction(action)

        self.sidebar = Sidebar(self.history, self)
        self.sidebar.conversation_chosen.connect(self.open_conversation)
        self.sidebar.new_chat_clicked.connect(self.new_chat)
        self.sidebar.deleted.connect(self._on_deleted)

        chat = QWidget(self)
        layout = QVBoxLayout(chat)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.chat_view = ChatView(chat)
        self.chat_view.action_requested.connect(self._on_message_action)
        layout.addWidget(self.chat_view, 1)
        row = QHBoxLayout()
        row.setContentsMargins(12, 8, 12, 12)
        self.composer = Composer(chat)
        self.composer.submitted.connect(self.send)
        self.composer.edit_last_requested.connect(self.edit_last_question)
        row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Send", chat)
        self.send_button.setObjectName("sendButton")
        self.send_button.setAutoDefault(False)
        self.send_button.clicked.connect(self._on_send_button)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 840])
        self.setCentralWidget(self.splitter)
        self.status_label = QLabel(self)
        self.stats_label = QLabel(self)
        self.stats_label.setObjectName("statsLabel")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.stats_label)
        self.composer.setFocus()

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _update_controls(self) -> None:
        generating = self.engine.generating
        ready = self.model_info is not None and not self.engine.busy
        self.send_button.setText("Stop" if generating else "Send")
        self.send_button.setEnabled(generating or ready)
        self.model_picker.setEnabled(not self.engine.busy)
        self.sidebar.setEnabled(not generating)

    # -- window state ----------------------------------------------------------------------

    def _restore_state(self) -> None:
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        if self.settings.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(self.settings.splitter_state.encode()))
        self.refresh_sidebar()
        last = self.settings.last_conversation
        if last and self.sidebar.item_for(last) is not None:
            self.open_conversation(last)

    def _save_state(self) -> None:
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.splitter_state = bytes(self.splitter.saveState().toBase64()).decode()
        self.settings.last_conversation = self.conversation.conversation_id or 0
        try:
            settings_store.save(self.settings)
        except OSError as exc:
            log.warning("could not save the settings: %s", exc)

    # -- conversations ---------------------------------------------------------------------

    def refresh_sidebar(self) -> None:
        self.sidebar.refresh(self.conversation.conversation_id)

    def new_chat(self) -> None:
        if self.engine.generating:
            return
        self._cancel_edit()
        self.conversation.new()
        self.sidebar.select(None)
        self.stats_label.clear()
        self.composer.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if self.engine.generating:
            return
        self._cancel_edit()
        try:
            self.conversation.open(conversation_id)
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self.sidebar.select(conversation_id)
        self.stats_label.clear()
        search = self.sidebar.search.text().strip()
        if self.sidebar.searching and search:
            self.chat_view.find(search.split()[0])  # show the first hit

    def _on_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.conversation.conversation_id:
            self.new_chat()

    # -- models ------------------------------------------------------------------------------

    def open_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self, self.settings, self.library, self.jobs)
            self.models_dialog.library_changed.connect(self._refresh_models)
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def _refresh_models(self) -> None:
        self.model_picker.fill(self.library.entries())

    def _on_model_installed(self, model_id: str) -> None:
        self._refresh_models()
        self._set_status(f"{self.library.get(model_id).name} is installed: pick it in the list.")

    # -- settings --------------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        model_id = self.model_entry.id if self.model_entry else ""
        dialog = SettingsDialog(
            self,
            self.settings,
            self.conversation.system_prompt,
            self.conversation.prompt_format,
            self.conversation.generation,
            self.conversation.defaults_for(model_id),
        )
        dialog.accepted.connect(lambda: self._apply_settings(dialog, model_id))
        dialog.open()
        return dialog

    def _apply_settings(self, dialog: SettingsDialog, model_id: str) -> None:
        self.conversation.system_prompt = dialog.system_prompt.toPlainText().strip()
        self.conversation.prompt_format = dialog.prompt_format.currentData()
        self.conversation.generation = dialog.generation()
        self.conversation.save_settings()
        reload = dialog.apply_to(self.settings, model_id)
        self._save_state()
        apply_theme(QApplication.instance(), self.settings.theme, self.settings.font_size)
        self.chat_view.show_messages([(e.role, e.label, e.content) for e in self.chat_view.entries])
        if reload and self.model_entry is not None:
            self.load_model(self.model_entry)

    # -- model library and loading ---------------------------------------------------------

    def _prepare_library(self) -> list[ModelEntry]:
        self.library.ensure_starter()
        return self.library.entries()

    def _on_library_ready(self, entries: list[ModelEntry]) -> None:
        self.model_picker.fill(entries)
        if not entries:
            self._set_status("No model installed — open a .gguf file (Ctrl+O).")
            return
        preferred = next((e for e in entries if self._initial_model in (e.id, e.name)), None)
        self.load_model(preferred or entries[0])

    def _on_library_failed(self, exc: BaseException) -> None:
        self._set_status("The model library could not be read.")
        show_error(self, exc)

    def _on_model_picked(self, model_id: str) -> None:
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
        self.model_picker.fill(self.library.entries())
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
        self.model_picker.select(entry.id)
        self._set_status(f"Loading {entry.name}…")
        self.engine.load(
            LoadRequest(
                path, self.settings.context_length, self.settings.threads, self.settings.gpu_layers
            )
        )
        self._update_controls()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        assert self._loading_entry is not None
        self.model_entry, self.model_info = self._loading_entry, info
        self.conversation.set_model(self.model_entry.id, self.model_entry.name)
        self.model_picker.select(self.model_entry.id)
        self._set_status(
            f"{self.model_entry.name} · context {info.context_length:,} tokens · "
            f"{info.threads} threads"
        )
        self._update_controls()
        self.model_ready.emit(info)

    def _on_model_failed(self, error: HuacayaError) -> None:
        name = self._loading_entry.name if self._loading_entry else "the model"
        self._set_status(f"Could not load {name}.")
        self.model_info = self.model_entry = None
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
        editing, self._editing = self._editing, None
        self.stats_label.setText("Thinking…")
        if editing is not None:
            self.conversation.edit_and_resend(editing, text)
        else:
            self.conversation.send(text)
        self._update_controls()

    def stop_answer(self) -> None:
        if self.engine.generating:
            self.engine.stop()
        elif self._editing is not None:
            self._cancel_edit()

    def edit_last_question(self) -> None:
        index = self.conversation.last_question_index()
        if index is not None:
            self._start_edit(index)

    def _start_edit(self, index: int) -> None:
        if self.engine.busy:
            return
        self._editing = index
        self.composer.setPlainText(self.conversation.messages[index]["content"])
        self.composer.setFocus()
        self._set_status(
            "Editing a question: Enter resends it (later turns are replaced), Esc cancels."
        )

    def _cancel_edit(self) -> None:
        if self._editing is not None:
            self._editing = None
            self.composer.clear()
            self._set_status("")

    def _on_message_action(self, action: str, index: int) -> None:
        if action == "edit":
            self._start_edit(index)
        elif action == "regenerate" and not self.engine.busy:
            self.stats_label.setText("Thinking…")
            self.conversation.regenerate()
            self._update_controls()

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        self.stats_label.setText(format_stats(stats))
        self._update_controls()
        self.composer.setFocus()
        self.answer_finished.emit(stats)

    def _on_answer_failed(self, error: HuacayaError) -> None:
        self.stats_label.clear()
        self._update_controls()
        show_error(self, error)

    def _return_question(self, question: str) -> None:
        if not self.composer.toPlainText().strip():
            self.composer.setPlainText(question)

    # -- shutdown --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_state()
        self.sidebar.forget_deleted()
        self.jobs.shutdown()  # interrupted jobs resume at the next start
        self.engine.shutdown()
        self.history.close()
        super().closeEvent(event)
