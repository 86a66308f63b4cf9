"""The local API's request log: who asked what of which model, and how each request ended.

The worker adds one entry per request when it is done with it (answered, stopped because its
client left, refused or failed), so the log also says what happened to requests nobody waits for
any more. The newest entries are kept in memory (the window's Settings → Local API shows them).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

KEPT = 500  # entries kept, newest last


@dataclass(frozen=True)
class LoggedRequest:
    started: float  # time.time() when the request was submitted
    client: str  # "host:port" of the caller
    endpoint: str  # "/v1/chat/completions", …
    model: str  # the library id that answered ("" when none did)
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # from submission to the end (waiting in the queue included)
    outcome: str  # "stop", "length", "cancelled" (the client left or the server stopped), "error"
    detail: str = ""  # what went wrong, for "error"


class RequestLog:
    """Thread-safe: the worker writes, the window and the tests read."""

    def __init__(self, kept: int = KEPT) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=kept)
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        """Oldest first."""
        with self._lock:
            return list(self._entries)

    def last(self) -> LoggedRequest | None:
        with self._lock:
            return self._entries[-1] if self._entries else None
