"""``huacaya serve``: the local OpenAI-compatible API, until Ctrl+C."""

from __future__ import annotations

import argparse
import sys
import time

from conversion.progress import cancel_on_interrupt
from desktop.core import secrets
from desktop.core.models.library import library_for
from desktop.core.settings import SettingsStore, generation_from
from desktop.server.config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, is_loopback

NAME = "serve"


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the library's models through an OpenAI-compatible API",
        description="Serve the library's models at http://HOST:PORT/v1 (chat and text "
        "completions, embeddings, models). Loopback only unless --host says otherwise; any "
        "other address requires the API key, which is printed.",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s, this computer only; 0.0.0.0: every "
        "network, with a key)",
    )
    serve.add_argument(
        "--model", "-m", default="", help="model for requests naming none (default: yours)"
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. http://localhost:3000) call the API; repeatable",
    )
    serve.add_argument("--require-key", action="store_true", help="require the key on loopback too")
    serve.add_argument("--ctx", type=int, help="context length in tokens")
    serve.add_argument("--threads", type=int, help="CPU threads (default: physical cores - 1)")
    serve.add_argument(
        "--max-tokens", type=int, default=4096, help="longest answer a request may ask for"
    )
    serve.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="requests answered at once, decoded together (default: as in Settings → Local "
        "API, 4 unless changed); each needs its own context's worth of memory",
    )
    serve.add_argument(
        "--queue", type=int, default=16, help="requests that may wait for a slot (then 429)"
    )


def run(args: argparse.Namespace) -> int:
    from desktop.server.runner import ApiServer

    store = SettingsStore()
    settings = store.settings
    needs_key = args.require_key or not is_loopback(args.host)
    library = library_for(settings.models_folder)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        model=args.model or settings.default_model,
        api_key=secrets.local_api_key() if needs_key else None,
        cors_origins=args.cors_origin,
        max_tokens_limit=max(1, args.max_tokens),
        parallel=max(1, args.parallel or settings.local_api_parallel),
        queue_size=max(1, args.queue),
        context_length=args.ctx or settings.context_length,
        threads=args.threads or settings.threads,
        gpu_layers=settings.gpu_layers,
    )
    server = ApiServer(
        config,
        library,
        lambda model: generation_from(settings.model_defaults.get(model), settings.generation),
    )
    server.start()
    try:
        entry = server.preload()
        slots = server.worker.engine.slots if server.worker and server.worker.engine else 1
        print(f"Huacaya API: {server.url}  (model: {entry.id}, {slots} at once)", file=sys.stderr)
        if config.api_key:
            kept = "" if secrets.keychain_available() else " (kept for this run only)"
            print(f"API key{kept}: {config.api_key}", file=sys.stderr)
        print("Ctrl+C stops the server.", file=sys.stderr)
        with cancel_on_interrupt() as cancel:
            while not cancel.cancelled:
                time.sleep(0.25)
        print("Stopping…", file=sys.stderr)
    finally:
        server.stop()
    return 0
