"""The local API inside the app: started and stopped as Settings → Local API says, on
background threads (uvicorn's and the model worker's), and stopped with the app.

The server loads its own copy of a model on its first request (a GGUF is memory-mapped, so the
same model as the window's shares its weights' pages) and checks the memory before loading. It
answers up to Settings → Local API's number of requests at once, decoded together on its own
threads at a lower CPU priority, so the window's answer keeps its pace beside them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from conversion.errors import HuacayaError
from desktop.core import secrets
from desktop.core.models.library import ModelLibrary
from desktop.core.settings import GenerationSettings, SettingsStore, generation_from
from desktop.server.config import DEFAULT_HOST, NETWORK_HOST, ServerConfig, base_url

if TYPE_CHECKING:
    from desktop.server.runner import ApiServer

log = logging.getLogger(__name__)
KEYS = {"local_api_enabled", "local_api_port", "local_api_network", "local_api_parallel"}


def address(port: int) -> str:
    return base_url(DEFAULT_HOST, port)


class LocalApi(QObject):
    """Keeps the server running exactly when the settings want it."""

    changed = Signal(str)  # the status line
    failed = Signal(object)  # HuacayaError, when a start asked for by the user failed

    def __init__(self, store: SettingsStore, library: ModelLibrary, parent: QObject) -> None:
        super().__init__(parent)
        self.store = store
        self.library = library
        self.server: ApiServer | None = None
        self.status = "Off."
        store.subscribe(self._on_settings_changed)

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.running

    def start_if_enabled(self) -> None:
        """At app start: a failure (the port taken) is only told in the status line."""
        if self.store.settings.local_api_enabled:
            self._restart(tell=False)

    def _on_settings_changed(self, changed: set[str]) -> None:
        if changed & KEYS:
            self._restart(tell=True)

    def _defaults_for(self, model_id: str) -> GenerationSettings:
        settings = self.store.settings
        return generation_from(settings.model_defaults.get(model_id), settings.generation)

    def _restart(self, tell: bool) -> None:
        # Imported when first needed: the web stack (FastAPI, pydantic, uvicorn) costs the
        # window's start time otherwise.
        from desktop.server.runner import ApiServer

        self.shutdown()
        settings = self.store.settings
        if not settings.local_api_enabled:
            self._set_status("Off.")
            return
        config = ServerConfig(
            host=NETWORK_HOST if settings.local_api_network else DEFAULT_HOST,
            port=settings.local_api_port,
            model=settings.default_model,
            api_key=secrets.local_api_key() if settings.local_api_network else None,
            parallel=max(1, settings.local_api_parallel),
            background=True,  # the window's own answers come first
            context_length=settings.context_length,
            threads=settings.threads,
            gpu_layers=settings.gpu_layers,
        )
        server = ApiServer(config, self.library, self._defaults_for)
        try:
            server.start()
        except HuacayaError as exc:
            log.warning("the local API did not start: %s", exc)
            self._set_status(f"Not running: {exc.message}")
            if tell:
                self.failed.emit(exc)
            return
        self.server = server
        self._set_status(f"Running at {server.url}")

    def shutdown(self) -> None:
        """Stop the server (an answer in progress is cancelled); idempotent."""
        if self.server is not None:
            self.server.stop()
            self.server = None
            self._set_status("Off.")

    def _set_status(self, text: str) -> None:
        self.status = text
        self.changed.emit(text)
