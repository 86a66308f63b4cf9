"""ApiServer: the local API running on a background thread (uvicorn), started and stopped by
``huacaya serve`` and by the window's Local API switch."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from conversion.errors import ServerError
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import GenerationSettings
from desktop.server.app import create_app, default_model
from desktop.server.config import ServerConfig, base_url
from desktop.server.worker import ModelWorker

log = logging.getLogger(__name__)
START_TIMEOUT_S = 15.0


class ApiServer:
    def __init__(
        self,
        config: ServerConfig,
        library: ModelLibrary,
        defaults_for: Callable[[str], GenerationSettings] = lambda model: GenerationSettings(),
    ) -> None:
        if not config.loopback and not config.api_key:
            raise ServerError(
                f"Serving on {config.host} lets other computers in; it needs an API key.",
                "Bind to 127.0.0.1, or start it with a key.",
            )
        self.config = config
        self.library = library
        self.defaults_for = defaults_for
        self.worker: ModelWorker | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1] if self._socket else self.config.port

    @property
    def url(self) -> str:
        return base_url(self.config.host, self.port)

    def start(self) -> None:
        """Bind the port (ServerError if it is taken) and serve on a background thread."""
        self._socket = self._bind()
        self.worker = ModelWorker(self.config, self.library)
        app = create_app(self.config, self.worker, self.library, self.defaults_for)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                http=H11Protocol,  # a class, not a name uvicorn imports at run time (bundles)
                ws="none",
                lifespan="off",
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
            )
        )
        sockets = [self._socket]
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=sockets)),
            name="huacaya-api-http",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            self.stop()
            raise ServerError("The local API server did not start; see the log file.")
        log.info("local API serving on %s", self.url)

    def preload(self) -> ModelEntry:
        """Load the model that answers requests naming none, waiting; raises what loading
        raised (ModelNotFoundError, NotEnoughMemoryError, ModelLoadError…)."""
        assert self.worker is not None, "start the server first"
        entry = default_model(self.library, self.config.model)
        self.worker.call(lambda worker: worker.load(entry))
        return entry

    def stop(self) -> None:
        """Stop answering (what runs is cancelled), free the model and release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self.worker is not None:
            self.worker.stop()
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                log.warning("the API server thread did not end in time")
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.worker = None

    def _bind(self) -> socket.socket:
        host = self.config.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
                )  # TIME_WAIT after restart
            sock.bind((host, self.config.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            taken = exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1))
            reason = "is already in use" if taken else f"cannot be used ({exc.strerror or exc})"
            raise ServerError(f"Port {self.config.port} on {host} {reason}.") from exc
        sock.set_inheritable(True)
        return sock
