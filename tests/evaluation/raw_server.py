"""A loopback server playing raw.githubusercontent.com for the evaluation-set downloads: it
serves ``/{owner}/{repo}/{commit}/{path}`` from files on disk, with HTTP ranges, and only ever
listens on 127.0.0.1.

Knobs: ``corrupt`` flips one byte of every file sent; ``stall_after`` sends that many bytes of a
file, then nothing until the test ends — a download in progress, to cancel; ``drop_after``
closes the connection after that many bytes, once. Every request's path and Range header are
recorded.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class LoopbackRaw:
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files  # URL path (without the leading /) → file on disk
        self.requests: list[str] = []
        self.corrupt = False
        self.stall_after: int | None = None
        self.drop_after: int | None = None
        self.ranges: list[str | None] = []
        self.released = threading.Event()
        raw = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                raw._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackRaw:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(handler.path).path).lstrip("/")
        self.requests.append(path)
        self.ranges.append(handler.headers.get("Range"))
        source = self.files.get(path)
        if source is None:
            body = b"404: Not Found"
            handler.send_response(404)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        data = source.read_bytes()
        if self.corrupt:
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes="):
            start = int(wanted[6:].split("-")[0])
        body = data[start:]
        handler.send_response(206 if start else 200)
        handler.send_header("Content-Length", str(len(body)))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        try:
            if self.drop_after is not None:
                cut, self.drop_after = self.drop_after, None
                handler.wfile.write(body[:cut])
                handler.close_connection = True
                handler.connection.shutdown(2)
                return
            if self.stall_after is None:
                handler.wfile.write(body)
                return
            handler.wfile.write(body[: self.stall_after])
            handler.wfile.flush()
            self.released.wait(60)
            handler.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            return
