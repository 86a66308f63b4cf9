"""The model the window chats with: which one is loaded, loading another, and keeping the
window honest when the library changes under it (a loaded model that is renamed answers under
its new name; one that is deleted is unloaded first, and the default model takes its place)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from conversion.gguf_file import read_gguf_info
from desktop.core.engine import ModelInfo
from desktop.core.errors import HuacayaError
from desktop.core.hardware import default_gpu_layers
from desktop.core.library import ModelEntry
from desktop.core.model_probe import probe_model
from desktop.core.words import plural
from desktop.ui import dialogs
from desktop.ui.engine_worker import LoadRequest
from desktop.ui.errors import show_error
from desktop.ui.tasks import run_in_background

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class ModelSlot(QObject):
    ready = Signal(object)  # ModelInfo
    status = Signal(str)

    def __init__(self, window: MainWindow, preferred: str) -> None:
        super().__init__(window)
        self.window = window
        self.library = window.library
        self.engine = window.engine
        self.picker = window.model_picker
        self.preferred = preferred
        self.entry: ModelEntry | None = None
        self.info: ModelInfo | None = None
        self._loading: ModelEntry | None = None
        self._after_unload: Callable[[], None] | None = None
        self.picker.model_chosen.connect(self._on_picked)
        self.picker.open_file_requested.connect(self.choose_file)
        self.engine.loaded.connect(self._on_loaded)
        self.engine.load_failed.connect(self._on_failed)
        self.engine.unloaded.connect(self._on_unloaded)

    # -- the library -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Register the starter model if needed and load the preferred model, off the GUI."""
        self.status.emit("Preparing the model library…")

        def entries() -> list[ModelEntry]:
            self.library.ensure_starter()
            return self.library.entries()

        run_in_background(entries, self._on_library_ready, self._on_library_failed)

    def _on_library_ready(self, entries: list[ModelEntry]) -> None:
        self.picker.fill(entries)
        if not entries:
            self.status.emit("No model installed — open a .gguf file (Ctrl+O).")
            return
        preferred = next((e for e in entries if self.preferred in (e.id, e.name)), None)
        self.load(preferred or entries[0])

    def _on_library_failed(self, exc: BaseException) -> None:
        self.status.emit("The model library could not be read.")
        show_error(self.window, exc)

    def on_installed(self, model_id: str) -> None:
        self.on_library_changed()
        try:
            name = self.library.get(model_id).name
        except HuacayaError:
            return
        self.status.emit(f"{name} is installed: pick it in the list.")

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
            self.window.conversation.set_model(current.id, current.name)
            self.picker.select(current.id)
            self._show_loaded()

    def _replace_deleted(self, gone: str) -> None:
        fallback = self.library.default_entry(self.preferred)
        if fallback is None:
            self.status.emit(f"“{gone}” was deleted; open or install a model to chat.")
            self.window._update_controls()
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
        if self.engine.generating:
            self.window.conversation.stop()
        self.entry = self.info = None
        self.window.conversation.set_model("", "Assistant")

        def after() -> None:
            then()
            remaining = {entry.id for entry in self.library.entries()}
            if previous is not None and previous.id not in remaining:
                self._replace_deleted(previous.name)

        self._after_unload = after
        self.engine.unload()
        self.window._update_controls()

    def _on_unloaded(self) -> None:
        then, self._after_unload = self._after_unload, None
        if then is not None:
            then()

    # -- loading ---------------------------------------------------------------------------

    def _on_picked(self, model_id: str) -> None:
        try:
            self.load(self.library.get(model_id))
        except HuacayaError as exc:
            show_error(self.window, exc)

    def choose_file(self) -> None:
        dialogs.open_file(
            self.window, "Open a GGUF model", self.open_file, "GGUF models (*.gguf);;All files (*)"
        )

    def open_file(self, path: Path) -> None:
        """Check ``path`` off the GUI thread (opening it in a child process first, so a file that
        crashes llama.cpp never becomes a library entry), add it to the library and load it."""
        self.status.emit(f"Checking {path.name}…")
        gpu_layers = self.window.settings.gpu_layers

        def check_and_add() -> ModelEntry:
            header = read_gguf_info(path)  # the quick checks first: a clear message, no child
            layers = gpu_layers if gpu_layers >= 0 else default_gpu_layers()
            probe_model(path, layers, header=header)
            return self.library.add_file(path)

        run_in_background(check_and_add, self._on_file_added, self._rejected)

    def _on_file_added(self, entry: ModelEntry) -> None:
        self.picker.fill(self.library.entries())
        self.load(entry)

    def _rejected(self, exc: BaseException) -> None:
        self.status.emit("That file is not a usable model.")
        show_error(self.window, exc, "Cannot open this model")

    def reload(self) -> None:
        if self.entry is not None:
            self.load(self.entry)

    def load(self, entry: ModelEntry) -> None:
        if self.engine.busy:
            return
        try:
            path = self.library.path_of(entry)
        except HuacayaError as exc:
            show_error(self.window, exc)
            return
        settings = self.window.settings
        self._loading = entry
        self.picker.select(entry.id)
        self.status.emit(f"Loading {entry.name}…")
        self.engine.load(
            LoadRequest(path, settings.context_length, settings.threads, settings.gpu_layers)
        )
        self.window._update_controls()

    def _on_loaded(self, info: ModelInfo) -> None:
        if self._loading is None:
            return
        self.entry, self.info, self._loading = self._loading, info, None
        self.window.conversation.set_model(self.entry.id, self.entry.name)
        self.picker.select(self.entry.id)
        self._show_loaded()
        if info.notice:
            dialogs.inform(self.window, info.notice, f"About {self.entry.name}")
        self.ready.emit(info)

    def _show_loaded(self) -> None:
        if self.entry is not None and self.info is not None:
            self.status.emit(
                f"{self.entry.name} · context {self.info.context_length:,} tokens · "
                f"{plural(self.info.threads, 'thread')}"
            )

    def _on_failed(self, error: HuacayaError) -> None:
        name = self._loading.name if self._loading else "the model"
        self.status.emit(f"Could not load {name}.")
        self.info = self.entry = self._loading = None
        self.window._update_controls()
        show_error(self.window, error, "Cannot load this model")
