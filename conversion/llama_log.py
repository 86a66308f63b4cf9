"""Route llama.cpp's own log into Python logging, with the right levels.

llama-cpp-python's default callback maps levels wrongly and prints to stderr; ours sends each
line to the ``llama.cpp`` logger and keeps the last error lines so that a failed load can tell
the user what llama.cpp said. The app's engine, its embedder and the GGUF teacher of
``huacaya-generate-data`` all install it from here.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque

import llama_cpp

log = logging.getLogger("llama.cpp")

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the last line)
_LEVELS = {
    0: logging.INFO,
    1: logging.DEBUG,
    2: logging.DEBUG,
    3: logging.WARNING,
    4: logging.ERROR,
}
_CONT = 5

_lock = threading.Lock()
_recent_errors: deque[str] = deque(maxlen=8)
_state = {"level": logging.DEBUG, "installed": False}


@llama_cpp.llama_log_callback
def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    message = text.decode("utf-8", errors="replace").rstrip("\n")
    if level == _CONT:
        level = _state["level"]
    else:
        level = _LEVELS.get(level, logging.INFO)
        _state["level"] = level
    if not message.strip():
        return
    if level >= logging.ERROR:
        with _lock:
            _recent_errors.append(message.strip())
    log.log(level, "%s", message)


def install() -> None:
    """Install the callback once per process (the reference above keeps it alive)."""
    if not _state["installed"]:
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        _state["installed"] = True


def take_recent_errors() -> list[str]:
    """The error lines logged since the last call (oldest first)."""
    with _lock:
        lines = list(_recent_errors)
        _recent_errors.clear()
    return lines
