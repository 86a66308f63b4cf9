"""The model the window chats with: which one is loaded, loading another, and keeping the
window honest when the library changes under it (a loaded model that is renamed answers under
its new name; one that is deleted is unloaded first, and the default model takes its place).

It is given what it drives — the library, the engine thread, the model picker and the settings
— and tells the rest through signals: ``model_changed`` (which model answers now), ``changed``
(the controls follow), ``status`` (passing messages) and ``ready``; :attr:`ModelSlot.summary`
is what the status bar keeps showing between messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from conversion.errors import HuacayaError
from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken, Progress, sub_range
from desktop.core.chat.engine import ModelInfo, check_model
from desktop.core.hardware import default_gpu_layers
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import SettingsStore
from desktop.core.words import plural
from desktop.ui import dialogs
from desktop.ui.background.engine_thread import EngineController, LoadRequest
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.errors import show_error
from desktop.ui.models.dialog import ModelsDialog
from desktop.ui.models.library_watcher import LibraryWatcher
from desktop.ui.models.picker import OPEN_FILE, ModelPicker

log = logging.getLogger(__name__)

NO_MODEL = "No model loaded: choose one above, or open a .gguf file (Ctrl+O)."


class ModelSlot(QObject):
    ready = Signal(object)  # ModelInfo
    status = Signal(str)
    changed = Signal()  # what is loaded (or loading) changed: the controls follow
    model_changed = Signal(str, str)  # the id and name answers are given under ("" when none)

    def __init__(
        self,
        library: ModelLibrary,
        engine: EngineController,
        picker: ModelPicker,
        store: SettingsStore,
        preferred: str,
        parent: QWidget,
    ) -> None:
        """``parent``: the window its questions and errors are shown over."""
        super().__init__(parent)
        self.parent_widget = parent
        self.library = library
        self.engine = engine
        self.picker = picker
        self.store = store
        self.preferred = preferred
        self.entry: ModelEntry | None = None
        self.info: ModelInfo | None = None
        self._loading: ModelEntry | None = None
        self._after_unload: Callable[[], None] | None = None
        self._checking: Task | None = None  # a model file being checked
        self._idle = NO_MODEL  # the summary while no model is loaded or loading
        self.picker.model_chosen.connect(self._on_picked)
        self.picker.open_file_requested.connect(self.choose_file)
        self.engine.loaded.connect(self._on_loaded)
        self.engine.load_failed.connect(self._on_failed)
        self.engine.unloaded.connect(self._on_unloaded)
        self.watcher = LibraryWatcher(lambda: self.library.root, self)
        self.watcher.changed.connect(self.on_disk_change)

    # -- the library -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Register the starter model if needed and load the preferred model, off the GUI."""
        self._idle = "Preparing the model library…"
        self.status.emit(self._idle)

        def entries(_progress: object, _cancel: object) -> list[ModelEntry]:
            self.library.ensure_starter()
            return self.library.entries()

        run_in_background(entries, self._on_library_ready, self._on_library_failed, owner=self)

    def _on_library_ready(self, entries: list[ModelEntry]) -> None:
        self.picker.fill(entries)
        self._idle = NO_MODEL if entries else "No model installed — open a .gguf file (Ctrl+O)."
        if not entries:
            self.status.emit(self._idle)
            return
        preferred = next((e for e in entries if self.preferred in (e.id, e.name)), None)
        self.load(preferred or entries[0])

    def _on_library_failed(self, exc: BaseException) -> None:
        self._idle = "The model library could not be read."
        self.status.emit(self._idle)
        show_error(self.parent_widget, exc)

    def on_installed(self, model_id: str) -> None:
        self.on_library_changed()
        try:
            name = self.library.get(model_id).name
        except HuacayaError:
            return
        self.status.emit(f"{name} is installed: pick it in the list.")

    def attach(self, dialog: ModelsDialog) -> None:
        """Let the Models window load, unload and list what this slot holds, and keep its
        list of installed models current as the slot changes."""
        dialog.library_changed.connect(self.on_library_changed)
        dialog.unload_requested.connect(self.unload_then)
        dialog.load_requested.connect(self.load_id)
        dialog.eject_requested.connect(self.unload)
        dialog.loaded_model = lambda: self.entry
        dialog.loaded_info = lambda: self.info
        self.changed.connect(dialog.show_installed)
        self.ready.connect(lambda _info: dialog.show_installed())
        dialog.show_installed()

    def on_library_changed(self) -> None:
        """Models were added, renamed or deleted (in the Models window or elsewhere)."""
        entries = self.library.entries()
        self.picker.fill(entries)
        if self.entry is None:
            return
        current = next((e for e in entries if e.id == self.entry.id), None)
        if current is None:  # deleted: never keep answering under a model that is gone
            self.unload_then(None, lambda: None)
        elif current.name != self.entry.name:
            self.entry = current
            self.model_changed.emit(current.id, current.name)
            self.picker.select(current.id)
            self._show_loaded()

    def on_disk_change(self) -> None:
        """The library folder changed on disk (``LibraryWatcher``), perhaps by another program:
        the picker follows, unless the window already showed this change itself."""
        items = (
            (self.picker.itemData(i), self.picker.itemText(i)) for i in range(self.picker.count())
        )
        shown = {data: text for data, text in items if data and data != OPEN_FILE}  # models only
        entries = self.library.entries()
        if shown == {e.id: e.name for e in entries}:
            return
        added = [e for e in entries if e.id not in shown]
        self.on_library_changed()
        if len(added) == 1:
            self.status.emit(f"{added[0].name} was added to the library: pick it in the list.")
        elif added:
            self.status.emit(f"{plural(len(added), 'model')} added to the library.")

    def _replace_deleted(self, gone: str) -> None:
        fallback = self.library.default_entry(self.preferred)
        if fallback is None:
            self.status.emit(f"“{gone}” was deleted; open or install a model to chat.")
            self.changed.emit()
            return
        self.status.emit(f"“{gone}” was deleted; loading {fallback.name}.")
        self.load(fallback)

    def unload_then(self, model_id: str | None, then: Callable[[], None]) -> None:
        """Free the loaded model if it is ``model_id`` (any when None), then call ``then``
        (which may delete it); if it left the library, the default model is loaded instead."""
        previous = self.entry
        if model_id is not None and (previous is None or model_id != previous.id):
            then()
            return
        self.engine.stop()  # the answer in progress, if any: it is kept as far as it came
        self.entry = self.info = None
        self.model_changed.emit("", "Assistant")

        def after() -> None:
            then()
            remaining = {entry.id for entry in self.library.entries()}
            if previous is not None and previous.id not in remaining:
                self._replace_deleted(previous.name)

        self._after_unload = after
        self.engine.unload()
        self.changed.emit()

    def unload(self) -> None:
        """The person frees the model's memory; nothing answers until a model is chosen."""
        if self.entry is None or self.engine.busy:
            return
        name = self.entry.name

        def told() -> None:
            self.picker.select("")
            self.status.emit(f"{name} was unloaded; choose a model to chat.")

        self.unload_then(None, told)

    def load_id(self, model_id: str) -> None:
        """Load the installed model ``model_id`` (the Models window's Load)."""
        self._on_picked(model_id)

    def _on_unloaded(self) -> None:
        then, self._after_unload = self._after_unload, None
        if then is not None:
            then()

    # -- loading ---------------------------------------------------------------------------

    def _on_picked(self, model_id: str) -> None:
        try:
            self.load(self.library.get(model_id))
        except HuacayaError as exc:
            show_error(self.parent_widget, exc)

    def choose_file(self) -> None:
        dialogs.open_file(
            self.parent_widget,
            "Open a GGUF model",
            self.open_file,
            "GGUF models (*.gguf);;All files (*)",
        )

    def open_file(self, path: Path) -> None:
        """Check ``path`` off the GUI thread (opening it in a child process first, so a file that
        crashes llama.cpp never becomes a library entry), add it to the library and load it.
        Each step is told in the status line."""
        gpu_layers = self.store.settings.gpu_layers

        def check_and_add(progress: Progress, cancel: CancelToken) -> ModelEntry:
            progress(0.0, f"Checking {path.name}…")
            header = read_gguf_info(path)  # the quick checks first: a clear message, no child
            installed = self.library.find_copy(path, sub_range(progress, 0.0, 0.1), cancel)
            if installed is not None:  # the same model, under its name in the library
                progress(1.0, f"{path.name} is installed already, as {installed.name}.")
                return installed
            progress(0.1, f"Opening {path.name} in llama.cpp to check it…")
            layers = gpu_layers if gpu_layers >= 0 else default_gpu_layers()
            check_model(path, layers, cancel, header=header)
            cancel.check()
            progress(0.9, f"Adding {path.name} to the library…")
            return self.library.add_file(path)

        if self._checking is not None:
            self._checking.cancel()  # the newest choice wins
        task = run_in_background(
            check_and_add,
            self._on_file_added,
            self._rejected,
            on_progress=lambda _fraction, message: self.status.emit(message),
            owner=self,
        )
        task.ended.connect(lambda: self._check_ended(task))
        self._checking = task

    def _check_ended(self, task: Task) -> None:
        if self._checking is task:
            self._checking = None

    def shutdown(self) -> None:
        """The window closes: a model file being checked is left unchecked."""
        if self._checking is not None:
            self._checking.cancel()

    def _on_file_added(self, entry: ModelEntry) -> None:
        self.picker.fill(self.library.entries())
        self.load(entry)

    def _rejected(self, exc: BaseException) -> None:
        self.status.emit("That file is not a usable model.")
        show_error(self.parent_widget, exc, "Cannot open this model")

    def reload(self) -> None:
        if self.entry is not None:
            self.load(self.entry)

    def load(self, entry: ModelEntry) -> None:
        if self.engine.busy:
            return
        try:
            path = self.library.path_of(entry)
        except HuacayaError as exc:
            show_error(self.parent_widget, exc)
            return
        settings = self.store.settings
        self._loading = entry
        self.picker.select(entry.id)
        self.status.emit(f"Loading {entry.name}…")
        self.engine.load(
            LoadRequest(path, settings.context_length, settings.threads, settings.gpu_layers)
        )
        self.changed.emit()

    def _on_loaded(self, info: ModelInfo) -> None:
        if self._loading is None:
            return
        self.entry, self.info, self._loading = self._loading, info, None
        self.model_changed.emit(self.entry.id, self.entry.name)
        self.picker.select(self.entry.id)
        self._show_loaded()
        if info.notice:
            dialogs.inform(self.parent_widget, info.notice, f"About {self.entry.name}")
        self.ready.emit(info)

    @property
    def summary(self) -> str:
        """What the status bar shows between passing messages: the model loaded, with its
        context and threads; the one loading; or why none is."""
        if self._loading is not None:
            return f"Loading {self._loading.name}…"
        if self.entry is not None and self.info is not None:
            return (
                f"{self.entry.name} · context {self.info.context_length:,} tokens · "
                f"{plural(self.info.threads, 'thread')}"
            )
        return self._idle

    def _show_loaded(self) -> None:
        if self.entry is not None and self.info is not None:
            self.status.emit(self.summary)

    def _on_failed(self, error: HuacayaError) -> None:
        name = self._loading.name if self._loading else "the model"
        self._idle = f"Could not load {name}: choose another model."
        self.status.emit(f"Could not load {name}.")
        self.info = self.entry = self._loading = None
        self.changed.emit()
        show_error(self.parent_widget, error, "Cannot load this model")
