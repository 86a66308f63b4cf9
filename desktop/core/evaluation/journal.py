"""Append-only JSON Lines that survive a kill: the answer cache, the judge's cache, vote sessions.

Each record is one line, appended and flushed to disk (``fsync``) before the work goes on, so
what was done before a kill is kept. A line cut short by the kill (no newline at its end, or not
JSON) is the record that was being written: it is dropped when the file is read, and cut off
before the next append, so the file never holds half a record in the middle.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonLines:
    """One append-only JSON Lines file; appends from several threads are serialised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._checked = False

    def read(self) -> Iterator[dict[str, Any]]:
        """Every whole record (a torn or damaged line is skipped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        lines = data.split(b"\n")
        for line in lines[:-1]:  # the last piece has no newline: torn, or empty
            record = _parse(line)
            if record is not None:
                yield record

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self._checked:
                self._cut_torn_tail()
                self._checked = True
            with open(self.path, "ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def _cut_torn_tail(self) -> None:
        """A last line without its newline was being written when a process died: cut it."""
        try:
            with open(self.path, "r+b") as handle:
                data = handle.read()
                if data and not data.endswith(b"\n"):
                    handle.truncate(data.rfind(b"\n") + 1)
        except FileNotFoundError:
            pass


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
