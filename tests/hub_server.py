"""A loopback server that speaks the Hugging Face Hub's HTTP protocol to huggingface-hub.

Enough of it for Huacaya: model search (``/api/models``), repository metadata with file sizes
and hashes (``/api/models/{repo}?blobs=true``, ``/api/datasets/{repo}``), token checks
(``/api/whoami-v2``), and file downloads with HTTP ranges (``/{repo}/resolve/{revision}/{file}``,
``/datasets/{repo}/resolve/{revision}/{file}``). Gated repositories answer 401
with the Hub's error code until the right token is sent. Knobs let tests corrupt a byte in
transit, slow a transfer down, drop the connection after some bytes (once or again and again),
and play a hostile or broken server: a metadata request that never answers, a file whose body
never comes, a body dripped one byte at a time, an endless body, an outage answering 503.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GOOD_TOKEN = "hf_loopback_good_token"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    files: dict[str, Path]  # name in the repo → file on disk
    gated: bool = False
    tags: list[str] = field(default_factory=list)
    likes: int = 0
    parameters: int | None = None


@dataclass
class Knobs:
    corrupt: set[str] = field(default_factory=set)  # file names to flip one byte of
    delay_per_mb: float = 0.0
    drop_after: int | None = None  # close the connection after this many bytes (once)
    redirect_to_cdn: bool = False  # answer /resolve/ with a 302 to another host, like the Hub
    drop_every: int | None = None  # close every connection after this many bytes of a file
    stall_metadata: bool = False  # /api/models/{repo} never answers
    stall_search: bool = False  # /api/models (a search) never answers
    stall_body: bool = False  # a file's headers come, then silence
    drip_every: float = 0.0  # a file's body comes one byte per this many seconds
    endless_body: bool = False  # a file's body is junk without end (no Content-Length)
    unavailable: bool = False  # files answer 503, as during an outage


class LoopbackHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.datasets: dict[str, Repo] = {}
        self.knobs = Knobs()
        self.released = threading.Event()  # set: stalled answers end (tests tidy up)
        self.bytes_served = 0
        self.requests: list[str] = []
        self.cdn_authorizations: list[str | None] = []  # what reached the "CDN" host
        self._lock = threading.Lock()
        self._hashes: dict[Path, tuple[str, str]] = {}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LoopbackHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_repo(self, repo_id: str, files: dict[str, Path], **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.repos[repo_id] = Repo(files, **kwargs)

    def reset(self) -> None:
        """Back to a well-behaved server; stalled answers end."""
        self.released.set()
        self.knobs = Knobs()
        self.released = threading.Event()

    def _stall(self) -> None:
        self.released.wait(120)

    def add_dataset(self, repo_id: str, files: dict[str, Path], **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.datasets[repo_id] = Repo(files, **kwargs)

    # -- helpers ---------------------------------------------------------------------------

    def _digests(self, path: Path) -> tuple[str, str]:
        if path not in self._hashes:
            data = path.read_bytes()
            sha256 = hashlib.sha256(data).hexdigest()
            blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False)
            self._hashes[path] = (sha256, blob.hexdigest())
        return self._hashes[path]

    def _authorized(self, handler: BaseHTTPRequestHandler, repo: Repo) -> bool:
        return not repo.gated or handler.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}"

    @staticmethod
    def _send_json(handler, status: int, data: object, headers: dict | None = None) -> None:  # type: ignore[no-untyped-def]
        body = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _model_json(self, repo_id: str, repo: Repo, blobs: bool) -> dict:  # type: ignore[type-arg]
        siblings = []
        for name, path in sorted(repo.files.items()):
            sibling: dict = {"rfilename": name}  # type: ignore[type-arg]
            if blobs:
                sha256, blob = self._digests(path)
                size = path.stat().st_size
                sibling.update(size=size, blobId=blob)
                if name.endswith((".safetensors", ".gguf", ".bin", ".pt")):  # LFS, as on the Hub
                    sibling["lfs"] = {"sha256": sha256, "size": size, "pointerSize": 134}
            siblings.append(sibling)
        extra = {}
        if repo.parameters:
            extra["safetensors"] = {
                "parameters": {"BF16": repo.parameters},
                "total": repo.parameters,
            }
        return {
            **extra,
            "_id": repo_id,
            "id": repo_id,
            "modelId": repo_id,
            "sha": REVISION,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "likes": repo.likes,
            "downloads": 10,
            "tags": repo.tags,
            "siblings": siblings,
        }

    def _tree(self, repo: Repo) -> list[dict]:  # type: ignore[type-arg]
        """``/tree/{revision}?recursive=true``: what snapshot_download lists."""
        entries = []
        for name, path in sorted(repo.files.items()):
            sha256, blob = self._digests(path)
            size = path.stat().st_size
            entry = {"type": "file", "oid": blob, "size": size, "path": name}
            if name.endswith((".safetensors", ".gguf", ".parquet")):
                entry["lfs"] = {"oid": sha256, "size": size, "pointerSize": 134}
            entries.append(entry)
        return entries

    # -- routes ----------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, head: bool) -> None:
        parsed = urllib.parse.urlparse(handler.path)
        query = urllib.parse.parse_qs(parsed.query)
        path = urllib.parse.unquote(parsed.path)
        with self._lock:
            self.requests.append(path)
        if path == "/api/whoami-v2":
            if handler.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}":
                self._send_json(handler, 200, {"name": "loopback-user", "type": "user"})
            else:
                self._send_json(
                    handler,
                    401,
                    {"error": "Invalid credentials"},
                    {"X-Error-Message": "Invalid credentials"},
                )
            return
        if path == "/api/models":
            if self.knobs.stall_search:
                self._stall()
                return
            self._search(handler, query)
            return
        if path.startswith(("/api/models/", "/api/datasets/")):
            kind, _, rest = path.removeprefix("/api/").partition("/")
            repo_id = rest.split("/revision/")[0].split("/tree/")[0]
            repo = (self.repos if kind == "models" else self.datasets).get(repo_id)
            if self.knobs.stall_metadata:
                self._stall()
                return
            if repo is not None and "/tree/" in rest and self._authorized(handler, repo):
                self._send_json(handler, 200, self._tree(repo))
                return
            if repo is None:
                self._send_json(
                    handler,
                    404,
                    {"error": "Repository not found"},
                    {"X-Error-Code": "RepoNotFound"},
                )
            elif not self._authorized(handler, repo):
                self._send_json(
                    handler,
                    401,
                    {"error": "Access to this model is restricted."},
                    {"X-Error-Code": "GatedRepo"},
                )
            else:
                self._send_json(handler, 200, self._model_json(repo_id, repo, "blobs" in query))
            return
        if path.startswith("/cdn/"):  # the other host: pre-signed, no token wanted
            self.cdn_authorizations.append(handler.headers.get("Authorization"))
            self._file(handler, path.removeprefix("/cdn"), head, check_access=False)
            return
        if path.startswith("/datasets/") and "/resolve/" in path:
            self._file(handler, path.removeprefix("/datasets"), head, repos=self.datasets)
            return
        if "/resolve/" in path:
            repo = self.repos.get(path.lstrip("/").partition("/resolve/")[0])
            if self.knobs.redirect_to_cdn and repo is not None and self._authorized(handler, repo):
                port = self.server.server_address[1]
                handler.send_response(302)
                handler.send_header("Location", f"http://localhost:{port}/cdn{path}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            self._file(handler, path, head)
            return
        self._send_json(handler, 404, {"error": "not found"})

    def _search(self, handler, query: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
        words = query.get("search", [""])[0].lower()
        filters = query.get("filter", [])
        found = [
            self._model_json(repo_id, repo, blobs=False)
            for repo_id, repo in self.repos.items()
            if words in repo_id.lower() and all(f in repo.tags for f in filters)
        ]
        found.sort(key=lambda m: -m["likes"])
        limit = int(query.get("limit", ["1000"])[0])
        self._send_json(handler, 200, found[:limit])

    def _file(self, handler, path: str, head: bool, check_access: bool = True, repos=None) -> None:  # type: ignore[no-untyped-def]
        repo_id, _, rest = path.lstrip("/").partition("/resolve/")
        _revision, _, name = rest.partition("/")
        repo = (self.repos if repos is None else repos).get(repo_id)
        if repo is None or name not in repo.files:
            self._send_json(
                handler, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
            )
            return
        if check_access and not self._authorized(handler, repo):
            self._send_json(
                handler, 401, {"error": "Access restricted"}, {"X-Error-Code": "GatedRepo"}
            )
            return
        if self.knobs.unavailable:
            self._send_json(handler, 503, {"error": "Service unavailable"})
            return
        data = repo.files[name].read_bytes()
        if self.knobs.endless_body or self.knobs.drip_every or self.knobs.stall_body:
            self._hostile_body(handler, len(data))
            return
        if name in self.knobs.corrupt:
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        range_header = handler.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-")[0])
        body = data[start:]
        handler.send_response(206 if start else 200)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", f'"{self._digests(repo.files[name])[0]}"')
        handler.send_header("X-Repo-Commit", REVISION)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if head:
            return
        sent = 0
        step = 1 << 20
        for offset in range(0, len(body), step):
            chunk = body[offset : offset + step]
            drop = self.knobs.drop_after
            if drop is None:
                drop = self.knobs.drop_every
            if drop is not None and sent + len(chunk) > drop:
                self.knobs.drop_after = None  # once (drop_every stays)
                handler.wfile.write(chunk[: drop - sent])
                with self._lock:
                    self.bytes_served += drop - sent
                handler.close_connection = True
                handler.connection.shutdown(2)
                return
            try:
                handler.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return
            sent += len(chunk)
            with self._lock:
                self.bytes_served += len(chunk)
            if self.knobs.delay_per_mb:
                time.sleep(self.knobs.delay_per_mb)

    def _hostile_body(self, handler, size: int) -> None:  # type: ignore[no-untyped-def]
        knobs = self.knobs
        handler.send_response(200)
        if not knobs.endless_body:
            handler.send_header("Content-Length", str(size))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            if knobs.stall_body:
                handler.wfile.flush()
                self._stall()
            elif knobs.drip_every:
                while not self.released.wait(knobs.drip_every):
                    handler.wfile.write(b"x")
                    handler.wfile.flush()
                    with self._lock:
                        self.bytes_served += 1
            else:
                junk = bytes(range(256)) * 4096
                while not self.released.is_set():
                    handler.wfile.write(junk)
                    with self._lock:
                        self.bytes_served += len(junk)
        except (BrokenPipeError, ConnectionResetError):
            return
