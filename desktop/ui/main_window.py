"""The main window: conversations on the left; the model picker, transcript, composer and
status bar on the right; every action also in the menu bar (``menus.py``). The work happens
elsewhere: the conversation in ChatSession (through ConversationController), the model on its
engine thread (``ModelSlot``), jobs in child processes, settings in the one SettingsStore."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop import APP_NAME
from desktop.core.chat.engine import ModelInfo
from desktop.core.chat.response import GenerationStats
from desktop.core.chat.session import ChatMessage
from desktop.core.history.store import History
from desktop.core.models.library import ModelLibrary, library_for
from desktop.core.settings import SettingsStore
from desktop.ui.chat_panel import ChatPanel
from desktop.ui.conversation import ConversationController
from desktop.ui.documents_feature import DocumentsFeature
from desktop.ui.engine_worker import EngineController
from desktop.ui.errors import show_error
from desktop.ui.job_process import JobManager
from desktop.ui.local_api import LocalApi
from desktop.ui.menus import build_menus
from desktop.ui.model_picker import ModelPicker
from desktop.ui.model_slot import ModelSlot
from desktop.ui.models_dialog import ModelsDialog
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.sidebar import Sidebar
from desktop.ui.theme import apply_theme

log = logging.getLogger(__name__)

CLOSE_GRACE_MS = 5_000  # how long closing waits for a stopped answer to end
THINKING, ANSWERING = "Thinking…", "Answering…"


class MainWindow(QMainWindow):
    model_ready = Signal(object)  # ModelInfo, once a model is loaded
    answer_finished = Signal(object)  # GenerationStats

    def __init__(
        self,
        library: ModelLibrary | None = None,
        initial_model: str = "",
        store: SettingsStore | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1100, 720)
        self.store = store or SettingsStore()
        self.library = library or library_for(self.settings.models_folder)
        self.history = History()
        self.history.purge_deleted()  # leftovers of a session that ended during an undo
        self._editing: int | None = None  # key of the question being edited
        self._closing = self._shut_down = False
        self.models_dialog: ModelsDialog | None = None

        self.jobs = JobManager(self.store, self)
        self.engine = EngineController(self)
        self._build()
        self.conversation = ConversationController(
            self.history, self.chat_view, self.engine, self.store
        )
        self.docs = DocumentsFeature(self)  # the Documents menu, sources, indexing
        self.models = ModelSlot(self, initial_model or self.settings.default_model)
        self.models.ready.connect(self._on_model_ready)
        self.models.status.connect(self._set_status)
        self.jobs.installed.connect(self.models.on_installed)
        self.conversation.conversations_changed.connect(self.refresh_sidebar)
        self.conversation.answer_started.connect(self._on_answer_started)
        self.conversation.answer_finished.connect(self._on_answer_finished)
        self.conversation.answer_failed.connect(self._on_answer_failed)
        self.conversation.question_returned.connect(self._return_question)
        self.engine.delta.connect(self._on_first_delta)
        self.store.subscribe(self._on_settings_changed)
        self.local_api = LocalApi(self.store, self.library, self)
        self.local_api.changed.connect(self._set_status)
        self.local_api.failed.connect(lambda exc: show_error(self, exc))
        self._close_timer = QTimer(self)
        self._close_timer.setSingleShot(True)
        self._close_timer.timeout.connect(self._force_close)
        self._restore_state()
        self._update_controls()
        self.models.prepare()
        self.local_api.start_if_enabled()
        resumed = self.jobs.resume_unfinished()
        if resumed:
            self._set_status(f"Resuming {len(resumed)} model download(s) — see Models.")
        if self.store.notice:
            self._set_status(self.store.notice)

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.store.settings

    @property
    def messages(self) -> list:  # type: ignore[type-arg]
        return self.conversation.messages

    @property
    def model_info(self) -> ModelInfo | None:
        return self.models.info

    @property
    def model_entry(self):  # type: ignore[no-untyped-def]
        return self.models.entry

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.actions = build_menus(self)
        self.actions.offline.setChecked(self.settings.offline)
        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        spacer = QWidget(self)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Model ", self))
        self.model_picker = ModelPicker(self)
        bar.addWidget(self.model_picker)
        bar.addAction(self.actions.models)
        bar.addAction(self.actions.settings)

        self.sidebar = Sidebar(self.history, self)
        self.sidebar.conversation_chosen.connect(self.open_conversation)
        self.sidebar.new_chat_clicked.connect(self.new_chat)
        self.sidebar.deleted.connect(self._on_deleted)
        self.sidebar.renamed.connect(lambda _id: self.refresh_sidebar())

        chat = ChatPanel(self)
        self.chat_view, self.composer, self.send_button = chat.view, chat.composer, chat.send
        self.chat_view.action_requested.connect(self._on_message_action)
        self.chat_view.copied.connect(
            lambda what: self.statusBar().showMessage("Copied to the clipboard.", 2500)
        )
        self.composer.submitted.connect(self.send)
        self.composer.edit_last_requested.connect(self.edit_last_question)
        self.send_button.clicked.connect(self._on_send_button)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 840])
        self.setCentralWidget(self.splitter)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusLabel")
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
        has_chat = self.conversation.conversation_id is not None
        has_answer = self.conversation.session.last_answer() is not None
        self.send_button.setText("Stop" if generating else "Send")
        self.send_button.setEnabled(generating or ready)
        self.model_picker.setEnabled(not self.engine.busy)
        self.sidebar.setEnabled(not generating)
        self.actions.update(
            generating=generating,
            busy=self.engine.busy,
            ready=ready,
            has_chat=has_chat,
            has_answer=has_answer,
            editing=self._editing is not None,
        )

    # -- window state ----------------------------------------------------------------------

    def _restore_state(self) -> None:
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        if self.settings.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(self.settings.splitter_state.encode()))
        self.refresh_sidebar()
        last = self.settings.last_conversation
        if last and self.sidebar.item_for(last) is not None:
            try:
                self.open_conversation(last)
            except (ValueError, TypeError, KeyError, AttributeError):
                # stored by an older version in a shape this one cannot show: start afresh
                log.exception("could not reopen conversation %s; starting a new chat", last)
                self.new_chat()

    def _save_state(self) -> None:
        try:
            self.store.update(
                window_geometry=bytes(self.saveGeometry().toBase64()).decode(),
                splitter_state=bytes(self.splitter.saveState().toBase64()).decode(),
                last_conversation=self.conversation.conversation_id or 0,
            )
        except HuacayaError as exc:
            log.warning("could not save the window state: %s", exc)

    def _on_settings_changed(self, changed: set[str]) -> None:
        if changed & {"theme", "font_size"}:
            apply_theme(QApplication.instance(), self.settings.theme, self.settings.font_size)
        if "offline" in changed:
            self.actions.offline.setChecked(self.settings.offline)
        if changed & {"threads", "context_length", "gpu_layers"}:
            self.models.reload()

    # -- conversations ---------------------------------------------------------------------

    def refresh_sidebar(self) -> None:
        self.sidebar.refresh(self.conversation.conversation_id)
        self._update_controls()

    def _on_current_chat(self, action) -> None:  # type: ignore[no-untyped-def]
        if self.conversation.conversation_id is not None and not self.engine.generating:
            action(self.conversation.conversation_id)

    def new_chat(self) -> None:
        if self.engine.generating:
            return
        self._cancel_edit()
        self.conversation.new()
        self.docs.show_chosen()
        self.sidebar.select(None)
        self.stats_label.clear()
        self._update_controls()
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
        self.docs.show_chosen()
        self.stats_label.clear()
        self._update_controls()
        search = self.sidebar.search.text().strip()
        if self.sidebar.searching and search:
            self.chat_view.find(search.split()[0])  # show the first hit

    def _on_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.conversation.conversation_id:
            self.new_chat()
        self._update_controls()

    # -- models and settings ---------------------------------------------------------------

    def open_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self, self.store, self.library, self.jobs)
            self.models_dialog.library_changed.connect(self.models.on_library_changed)
            self.models_dialog.unload_requested.connect(self.models.unload_then)
            self.models_dialog.loaded_model = lambda: self.models.entry
        self.models_dialog.show()
        self.models_dialog.raise_()
        self.models_dialog.activateWindow()
        return self.models_dialog

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._update_controls()
        self.model_ready.emit(info)

    def open_settings(self) -> SettingsDialog:
        model_id = self.model_entry.id if self.model_entry else ""
        session = self.conversation.session
        dialog = SettingsDialog(
            self,
            self.settings,
            session.system_prompt,
            session.prompt_format,
            session.generation,
            self.conversation.defaults_for(model_id),
            self.local_api.status,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._apply_settings(dialog, model_id))
        dialog.open()
        return dialog

    def _apply_settings(self, dialog: SettingsDialog, model_id: str) -> None:
        self.conversation.session.configure(
            system_prompt=dialog.system_prompt.toPlainText(),
            prompt_format=dialog.prompt_format.currentData(),
            generation=dialog.generation(),
        )
        try:
            self.store.update(**dialog.app_changes(self.settings, model_id))
        except HuacayaError as exc:
            show_error(self, exc)

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
        if editing is not None:
            self._set_status("")
            self.conversation.edit_and_resend(editing, text)
        else:
            self.conversation.send(text)

    def regenerate(self) -> None:
        if not self.engine.busy and self.model_info is not None and self.messages:
            self._cancel_edit()
            self.conversation.regenerate()

    def stop_answer(self) -> None:
        if self.engine.generating:
            self.conversation.stop()
        elif self._editing is not None:
            self._cancel_edit()

    def copy_last_answer(self) -> None:
        answer = self.conversation.session.last_answer()
        if answer is not None:
            QGuiApplication.clipboard().setText(answer.content)
            self.statusBar().showMessage("Copied the last answer to the clipboard.", 2500)

    def edit_last_question(self) -> None:
        question = self.conversation.session.last_question()
        if question is not None:
            self._start_edit(question.key)

    def _start_edit(self, key: int) -> None:
        if self.engine.busy:
            return
        self._editing = key
        self.composer.setPlainText(self.conversation.session.find(key).content)
        self.composer.setFocus()
        self._set_status(
            "Editing a question: Enter resends it (later turns are replaced), Esc cancels."
        )
        self._update_controls()

    def _cancel_edit(self) -> None:
        if self._editing is not None:
            self._editing = None
            self.composer.clear()
            self._set_status("")
            self._update_controls()

    def _on_message_action(self, action: str, key: int) -> None:
        if action == "edit":
            self._start_edit(key)
        elif action == "regenerate":
            self.regenerate()

    def _on_answer_started(self) -> None:
        self.stats_label.setText(THINKING)
        self._update_controls()

    def _on_first_delta(self, _text: str) -> None:
        if self.stats_label.text() == THINKING:
            self.stats_label.setText(ANSWERING)

    def _on_answer_finished(self, answer: ChatMessage, stats: GenerationStats | None) -> None:
        self.stats_label.setText(answer.speed)
        self._update_controls()
        self.composer.setFocus()
        self.answer_finished.emit(stats)
        if self._closing:
            QTimer.singleShot(0, self.close)

    def _on_answer_failed(self, error: HuacayaError) -> None:
        self.stats_label.clear()
        self._update_controls()
        if self._closing:
            QTimer.singleShot(0, self.close)
            return
        show_error(self, error)

    def _return_question(self, question: str) -> None:
        if not self.composer.toPlainText().strip():
            self.composer.setPlainText(question)

    # -- shutdown --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.engine.generating and not self._shut_down:
            # Stop the answer and close once it has ended (and what arrived is saved).
            self._closing = True
            self.conversation.stop()
            self._set_status("Stopping the answer before closing…")
            self._close_timer.start(CLOSE_GRACE_MS)
            event.ignore()
            return
        self._shutdown()
        super().closeEvent(event)

    def _force_close(self) -> None:
        """The engine did not end the answer in time: keep what arrived, then close."""
        if self.engine.generating:
            log.warning("the answer did not stop within %d ms; closing anyway", CLOSE_GRACE_MS)
            self.conversation.abandon()
            self.engine.generating = self.engine.busy = False
        self.close()

    def _shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._close_timer.stop()
        self._save_state()
        self.sidebar.forget_deleted()
        self.jobs.shutdown()  # interrupted jobs resume at the next start
        self.docs.shutdown()  # interrupted indexing continues at the next start
        self.engine.shutdown()
        self.local_api.shutdown()
        self.history.close()
        if self.models_dialog is not None:
            self.models_dialog.close()
