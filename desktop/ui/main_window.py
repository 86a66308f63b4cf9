"""The main window: conversations on the left; the model picker, transcript, composer and
status bar on the right; every action also in the menu bar (``menus.py``).

The window builds its parts and wires them; it decides little itself. The conversation lives in
ChatSession (through ``chat.conversation``), what a person does to it in ``chat.actions``, the
model on its engine thread (``models.slot``), documents in ``documents.feature``, jobs in child
processes, settings in the one SettingsStore. Each part is given only what it uses and speaks
through signals; none of them imports this module (``tests/core/test_boundaries.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSplitter,
)

from conversion.errors import HuacayaError
from desktop import APP_NAME
from desktop.core.chat.engine import ModelInfo
from desktop.core.chat.message import ChatMessage
from desktop.core.chat.preset_store import PresetStore
from desktop.core.chat.response import GenerationStats
from desktop.core.history.store import History
from desktop.core.models.library import ModelLibrary, library_for
from desktop.core.settings import SettingsStore
from desktop.ui import dialogs, window_state
from desktop.ui.background.engine_thread import EngineController
from desktop.ui.chat.actions import EDITING, ChatActions
from desktop.ui.chat.chat_tools import ChatTools
from desktop.ui.chat.conversation import ConversationController
from desktop.ui.chat.edit_undo_bar import EditUndoBar
from desktop.ui.chat.navigator import ChatNavigator
from desktop.ui.chat.panel import ChatPanel
from desktop.ui.chat.sidebar import Sidebar
from desktop.ui.chat.transfers import ChatTransfers
from desktop.ui.compare.window import CompareWindow
from desktop.ui.documents.feature import DocumentsFeature
from desktop.ui.errors import show_error
from desktop.ui.menus import build_menus, build_toolbar
from desktop.ui.models.dialog import ModelsDialog
from desktop.ui.models.jobs import JobManager
from desktop.ui.models.picker import ModelPicker
from desktop.ui.models.slot import ModelSlot
from desktop.ui.settings.dialog import SettingsDialog, open_settings
from desktop.ui.settings.local_api import LocalApi
from desktop.ui.status_text import ElidedLabel
from desktop.ui.studio.parts import StudioParts
from desktop.ui.studio.training_runs import TrainingRuns
from desktop.ui.studio.window import StudioWindow
from desktop.ui.theme import apply_theme

log = logging.getLogger(__name__)

CLOSE_GRACE_MS = 5_000  # how long closing waits for a stopped answer to end
EXPORT_GRACE_MS = 30_000  # … and for a stopped export to clean up (converting stops between
# tensors, the import job within seconds); after it, closing waits for it without painting
MESSAGE_MS = 10_000  # how long a passing message stays in the status bar


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
        self.store = store or SettingsStore()
        self.library = library or library_for(self.settings.models_folder)
        self.history = History()
        self.history.purge_deleted()  # leftovers of a session that ended during an undo
        self._closing = self._shut_down = self._forced = False
        self.models_dialog: ModelsDialog | None = None
        self.compare_window: CompareWindow | None = None
        self.studio_window: StudioWindow | None = None
        self.jobs = JobManager(self.store, self)
        self.training_runs = TrainingRuns(lambda: self.settings.offline, self)
        self.engine = EngineController(self)
        self._build(initial_model or self.settings.default_model)
        self._wire()
        self._restore_state()
        if not initial_model:  # the model the last chat used, as it was left
            self.models.preferred = self.conversation.last_chat_model() or self.models.preferred
        self._update_controls()
        self.models.prepare()
        self.local_api.start_if_enabled()
        resumed = self.jobs.resume_unfinished()
        if resumed:
            self._set_status(f"Resuming {len(resumed)} model download(s) — see Models.")
        if self.store.notice:
            self._set_status(self.store.notice)

    @property
    def settings(self):
        return self.store.settings

    @property
    def messages(self) -> list:
        return self.conversation.messages

    @property
    def model_info(self) -> ModelInfo | None:
        return self.models.info

    @property
    def model_entry(self):
        return self.models.entry

    # -- the parts -------------------------------------------------------------------------

    def _build(self, preferred_model: str) -> None:
        self.model_picker = ModelPicker(self)  # (made in the order Tab visits them)
        self.sidebar = Sidebar(self.history, self)
        self.transfers = ChatTransfers(self.history, self)
        chat = ChatPanel(self)
        self.chat_view, self.composer, self.send_button = chat.view, chat.composer, chat.send
        self.presets = PresetStore()
        self.conversation = ConversationController(
            self.history, self.chat_view, self.engine, self.store, self.presets
        )
        self.chat_actions = ChatActions(
            self.conversation, self.engine, chat, lambda: self.model_info is not None, self
        )
        self.edit_undo_bar = EditUndoBar(self.conversation, chat)
        chat.bars.addWidget(self.edit_undo_bar)
        self.chat_tools = ChatTools(
            self.presets,
            self.conversation,
            self.engine,
            self.store,
            chat,
            lambda: self.model_info is not None,
        )
        self.preset_picker, self.context_meter = self.chat_tools.picker, self.chat_tools.meter
        self.models = ModelSlot(
            self.library,
            self.engine,
            self.model_picker,
            self.store,
            preferred_model,
            self,
        )
        self.docs = DocumentsFeature(
            self.conversation.session, self.store, lambda: self.models.info, self
        )
        self.local_api = LocalApi(self.store, self.library, self)
        self.chats = ChatNavigator(
            self.sidebar,
            self.conversation,
            self.chat_actions,
            self.docs,
            self.engine,
            self.composer,
        )
        self.menu_actions = build_menus(self.menuBar(), self._menu_slots())
        self.menu_actions.offline.setChecked(self.settings.offline)
        help_menu = self.menuBar().actions()[-1]
        self.menuBar().insertMenu(help_menu, self.docs.menu)

        self.addToolBar(build_toolbar(self, self.model_picker, self.menu_actions))

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 840])
        self.setCentralWidget(self.splitter)
        self.status_label = ElidedLabel(self)
        self.status_label.setObjectName("statusLabel")
        self.stats_label = self.chat_actions.stats_label
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.stats_label)
        self.statusBar().addPermanentWidget(self.docs.label)
        self.composer.setFocus()

    def _menu_slots(self) -> dict[str, Callable[[], object]]:
        """What each menu item does: the window's own methods, or its parts'."""

        def on_chat(action: Callable[[int], object]) -> Callable[[], object]:
            return lambda: self.chats.on_current(action)

        return {
            "new_chat": self.chats.new,
            "import_chat": self.transfers.choose_import,
            "export_markdown": on_chat(lambda c: self.sidebar.export_conversation(c, "markdown")),
            "export_json": on_chat(lambda c: self.sidebar.export_conversation(c, "json")),
            "export_all": self.transfers.export_all,
            "open_model": self.models.choose_file,
            "quit": self.close,
            "find": self.sidebar.focus_search,
            "copy_answer": self.chat_actions.copy_last_answer,
            "settings": self.open_settings,
            "stop": self.chat_actions.stop,
            "regenerate": self.chat_actions.regenerate,
            "edit_last": self.chat_actions.edit_last_question,
            "presets": self.preset_picker.open_manager,
            "rename_chat": on_chat(self.sidebar.rename),
            "delete_chat": on_chat(self.sidebar.delete),
            "models": self.open_models,
            "compare": self.open_compare,
            "studio": self.open_studio,
            "offline": lambda: self.store.update(offline=self.menu_actions.offline.isChecked()),
        }

    def _wire(self) -> None:
        """Each part's news to the parts that act on it."""
        self.chats.changed.connect(self._update_controls)
        self.sidebar.import_clicked.connect(self.transfers.choose_import)
        self.transfers.running.connect(
            lambda busy: self.sidebar.set_transferring(busy, self.transfers.importing)
        )
        self.transfers.running.connect(lambda _running: self._update_controls())
        self.transfers.imported.connect(self.chats.show_imported)
        self.transfers.notice.connect(self._set_status)
        self.chat_view.source_requested.connect(self.docs.show_source)
        self.docs.notice.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.conversation.conversations_changed.connect(self.docs.show_chosen)
        self.conversation.answer_finished.connect(self._on_answer_finished)
        self.conversation.answer_failed.connect(self._on_answer_failed)
        self.chat_actions.changed.connect(self._update_controls)
        self.chat_actions.status.connect(self._set_status)
        self.chat_actions.notice.connect(lambda text: self.statusBar().showMessage(text, 2500))
        self.models.ready.connect(self._on_model_ready)
        self.models.status.connect(self._set_status)
        self.models.changed.connect(self._update_controls)
        self.models.changed.connect(self.context_meter.recount)  # none loaded: it hides
        self.models.model_changed.connect(self.conversation.set_model)
        self.jobs.installed.connect(self.models.on_installed)
        self.local_api.changed.connect(self._set_status)
        self.local_api.failed.connect(lambda exc: show_error(self, exc))
        self.store.subscribe(self._on_settings_changed)
        self._close_timer = QTimer(self)
        self._close_timer.setSingleShot(True)
        self._close_timer.timeout.connect(self._force_close)

    def _set_status(self, text: str, timeout_ms: int | None = None) -> None:
        """A passing message: it goes after ``timeout_ms`` (MESSAGE_MS unless given; 0: never)
        or at the next one, and the status bar shows what is loaded again (``status_label``,
        hidden while a message shows)."""
        self._show_state()
        if text and text != self.status_label.text():
            self.statusBar().showMessage(text, MESSAGE_MS if timeout_ms is None else timeout_ms)
        else:
            self.statusBar().clearMessage()

    def _show_state(self) -> None:
        self.status_label.setText(EDITING if self.chat_actions.editing else self.models.summary)

    def _update_controls(self) -> None:
        self._show_state()
        generating, busy = self.engine.generating, self.engine.busy
        ready = self.model_info is not None and not busy
        self.send_button.setText("Stop" if generating else "Send")
        self.send_button.setEnabled(generating or ready)
        self.model_picker.setEnabled(not busy)
        self.sidebar.setEnabled(not generating)
        self.menu_actions.update(
            generating=generating,
            busy=busy,
            ready=ready,
            has_chat=self.conversation.conversation_id is not None,
            has_answer=self.conversation.session.last_answer() is not None,
            editing=self.chat_actions.editing,
            transferring=self.transfers.busy,
        )

    # -- window state ----------------------------------------------------------------------

    def _restore_state(self) -> None:
        window_state.restore(self, self.splitter, self.settings)
        self.chats.refresh()
        last = self.settings.last_conversation
        if last and self.sidebar.item_for(last) is not None:
            try:
                self.chats.open(last)
            except (ValueError, TypeError, KeyError, AttributeError):
                # stored by an older version in a shape this one cannot show: start afresh
                log.exception("could not reopen conversation %s; starting a new chat", last)
                self.chats.new()

    def _save_state(self) -> None:
        try:
            self.store.update(
                **window_state.saved(self, self.splitter),
                last_conversation=self.conversation.conversation_id or 0,
            )
        except HuacayaError as exc:
            log.warning("could not save the window state: %s", exc)

    def _on_settings_changed(self, changed: set[str]) -> None:
        if changed & {"theme", "font_size"}:
            apply_theme(
                cast(QApplication, QApplication.instance()),
                self.settings.theme,
                self.settings.font_size,
            )
        if "offline" in changed:
            self.menu_actions.offline.setChecked(self.settings.offline)
        if changed & {"threads", "context_length", "gpu_layers"}:
            self.models.reload()

    # -- models and settings ---------------------------------------------------------------

    def open_models(self) -> ModelsDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self, self.store, self.library, self.jobs)
            self.models.attach(self.models_dialog)
        return dialogs.present(self.models_dialog)

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._update_controls()
        self.context_meter.recount()
        self.model_ready.emit(info)

    def open_compare(self) -> CompareWindow:
        """The Compare models window (one at a time; closing it keeps every vote)."""
        if self.compare_window is None:
            self.compare_window = CompareWindow(self.library, self)
            self.compare_window.destroyed.connect(self._forget_compare_window)
        return dialogs.present(self.compare_window)

    def _forget_compare_window(self) -> None:
        self.compare_window = None

    def open_studio(self) -> StudioWindow:
        """The "Make your own" window (one at a time; its training runs outlive it)."""
        if self.studio_window is None:
            parts = StudioParts(
                self.library,
                self._chat_with,
                lambda: self.settings.offline,
                self.training_runs,
                self.store,
            )
            self.studio_window = StudioWindow(parts, self)
            self.studio_window.destroyed.connect(self._forget_studio_window)
            self.studio_window.export_ended.connect(self._close_when_stopped)
        return dialogs.present(self.studio_window)

    def _forget_studio_window(self) -> None:
        self.studio_window = None

    def _chat_with(self, model_id: str) -> None:
        self.models.on_disk_change()  # a model just added: the list shows it first
        self.models.load_id(model_id)

    def open_settings(self) -> SettingsDialog:
        model_id = self.model_entry.id if self.model_entry else ""
        defaults = self.conversation.defaults_for(model_id)
        session, api = self.conversation.session, self.local_api
        dialog = open_settings(
            self,
            self.store,
            session,
            model_id,
            defaults,
            api.status,
            api.requests,
            self.presets.presets,
        )
        dialog.accepted.connect(self.chat_tools.follow_chat)  # after its own apply
        return dialog

    # -- answers and closing ---------------------------------------------------------------

    def _on_answer_finished(self, _answer: ChatMessage, stats: GenerationStats | None) -> None:
        self.answer_finished.emit(stats)
        self._close_when_stopped()

    def _on_answer_failed(self, error: HuacayaError) -> None:
        if self._closing:
            QTimer.singleShot(0, self.close)
            return
        show_error(self, error)

    def closeEvent(self, event: QCloseEvent) -> None:
        waiting = [] if self._shut_down or self._forced else self._stop_before_closing()
        if waiting:
            # Close once they have ended (what arrived is saved; nothing half-made is left),
            # the window painting and saying so meanwhile.
            self._closing = True
            self._set_status(f"Stopping {' and '.join(waiting)} before closing…", 0)
            if not self._close_timer.isActive():
                grace = EXPORT_GRACE_MS if "the export" in waiting else CLOSE_GRACE_MS
                self._close_timer.start(grace)
            event.ignore()
            return
        self._shutdown()
        super().closeEvent(event)

    def _stop_before_closing(self) -> list[str]:
        """Ask what is under way to stop; what it was, for the status bar."""
        waiting = []
        if self.engine.generating:
            self.conversation.stop()
            waiting.append("the answer")
        studio = self.studio_window
        if studio is not None and studio.exporting:
            studio.stop_exports()
            waiting.append("the export")
        return waiting

    def _close_when_stopped(self) -> None:
        if self._closing:
            QTimer.singleShot(0, self.close)

    def _force_close(self) -> None:
        """What was stopping did not end in time: keep what arrived of an answer, then close
        (an export is still waited for, in ``_shutdown``)."""
        if self.engine.generating:
            log.warning("the answer did not stop within %d ms; closing anyway", CLOSE_GRACE_MS)
            self.conversation.abandon()
        self._forced = True
        self.close()

    def _shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._close_timer.stop()
        self._save_state()
        self.sidebar.forget_deleted()
        if self.studio_window is not None:  # its exports stopped, nothing half-made left
            self.studio_window.shutdown()
        self.jobs.shutdown()  # interrupted jobs resume at the next start
        self.training_runs.shutdown()  # interrupted training runs show Resume
        self.docs.shutdown()  # interrupted indexing continues at the next start
        self.models.shutdown()
        self.engine.shutdown()
        self.local_api.shutdown()
        self.history.close()
        if self.models_dialog is not None:
            self.models_dialog.close()
