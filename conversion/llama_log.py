"""llama.cpp in this process: its log routed into Python logging, and the one way to load a model.

llama-cpp-python's default callback maps levels wrongly and prints to stderr; ours sends each
line to the ``llama.cpp`` logger and keeps the last error lines so that a failed load can tell
the user what llama.cpp said. :func:`load` is how the embedder opens a model as a ``Llama``;
:func:`load_model` opens one for the batched decoder (``conversion/decoding``), which the chat
engine and the GGUF teacher of ``huacaya-generate-data`` use.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

import llama_cpp

from conversion.errors import HuacayaError, ModelLoadError

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
# Warnings that do not apply to how we use llama.cpp, logged at debug level: with several
# sequences in one pool of cells (conversion/decoding), llama.cpp compares the whole pool with
# the trained context, while each sequence is held to its own share.
_EXPECTED = ("possible training context overflow",)

_lock = threading.Lock()
_recent_errors: deque[str] = deque(maxlen=8)
_state = {"level": logging.DEBUG, "installed": False, "backend": False}


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
    if level == logging.WARNING and any(text in message for text in _EXPECTED):
        level = logging.DEBUG
    if level >= logging.ERROR:
        with _lock:
            _recent_errors.append(message.strip())
    log.log(level, "%s", message)


def install() -> None:
    """Install the callback once per process (the reference above keeps it alive), and keep
    llama.cpp off its AMX weight buffers where it would use them (see below)."""
    if not _state["installed"]:
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        _avoid_amx_buffers()
        _state["installed"] = True


def _avoid_amx_buffers() -> None:
    """On CPUs with AMX (Intel Xeon Sapphire Rapids and later), a llama.cpp built for the machine
    (the default when pip compiles llama-cpp-python) repacks weights into AMX buffers and then
    crashes (SIGSEGV in ``ggml_backend_amx_mul_mat``) on the first decode: llama.cpp issue
    #20824, open without a fix; seen here with llama-cpp-python 0.3.36 on every model. Loading
    with ``use_extra_bufts`` off keeps the weights in plain CPU buffers (AVX-512 still does the
    work). ``Llama()`` has no argument for it, so the default model parameters it starts from
    are wrapped once, process-wide; builds without AMX are left alone."""
    if not _has_amx():
        return
    llama_cpp.llama_cpp.llama_model_default_params = model_params
    log.info("AMX present: llama.cpp loads models without extra weight buffers (issue #20824)")


_LLAMA_DEFAULTS = llama_cpp.llama_cpp.llama_model_default_params  # before any wrapping


def _has_amx() -> bool:
    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


def model_params() -> llama_cpp.llama_model_params:
    """llama.cpp's default model parameters, without extra weight buffers where the CPU has
    AMX (see :func:`_avoid_amx_buffers`): what every model this project loads starts from,
    through ``Llama()`` or :func:`load_model` (batched decoding)."""
    params = _LLAMA_DEFAULTS()
    if _has_amx():
        params.use_extra_bufts = False
    return params


def take_recent_errors() -> list[str]:
    """The error lines logged since the last call (oldest first)."""
    with _lock:
        lines = list(_recent_errors)
        _recent_errors.clear()
    return lines


def load(
    path: Path, what: str = "", error: type[HuacayaError] = ModelLoadError, **options: Any
) -> llama_cpp.Llama:
    """``llama_cpp.Llama(model_path=path, **options)`` with our log callback, llama-cpp-python's
    own prints kept out of the terminal, and a failure raised as ``error`` naming the file (or
    ``what``) and what llama.cpp said.

    ``verbose=True`` while loading: with False, llama-cpp-python silences the whole process's
    file descriptors 1 and 2, swallowing other threads' output. Its Python prints are captured
    here (logged at debug level); llama.cpp's own log goes to our callback. Once loaded, the
    model stays quiet (``verbose`` off)."""
    install()
    take_recent_errors()
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            llama = llama_cpp.Llama(model_path=str(path), verbose=True, **options)
    except (ValueError, RuntimeError, OSError) as exc:
        errors = "; ".join(take_recent_errors()[-3:])
        detail = f" llama.cpp said: {errors}" if errors else ""
        raise error(f"llama.cpp could not load {what or f'“{path.name}”'}.{detail}") from exc
    finally:
        log.debug("llama-cpp-python while loading: %s", said.getvalue())
    llama.verbose = False
    return llama


def load_encoder(path: Path, what: str, max_tokens: int) -> llama_cpp.Llama:
    """A model read one sequence of at most ``max_tokens`` at a time for its pooled output (an
    embedding model's vector, a cross-encoder's score): one thread per copy, flash attention
    (2.5× faster here, same vectors: cosine > 0.99999)."""
    return load(
        path,
        what=what,
        embedding=True,
        n_ctx=max_tokens,
        n_batch=max_tokens,
        n_ubatch=max_tokens,
        n_seq_max=1,
        n_threads=1,
        n_threads_batch=1,
        flash_attn=True,
    )


def load_model(
    path: Path,
    what: str = "",
    error: type[HuacayaError] = ModelLoadError,
    gpu_layers: int = 0,
) -> Any:
    """The weights of ``path`` in llama.cpp (a ``llama_model`` pointer, memory-mapped, free it
    with ``llama_cpp.llama_model_free``), with our log callback; a failure raised as ``error``
    naming the file (or ``what``) and what llama.cpp said. ``gpu_layers`` -1: all of them."""
    install()
    with _lock:
        if not _state["backend"]:
            llama_cpp.llama_backend_init()
            _state["backend"] = True
    take_recent_errors()
    params = model_params()
    params.n_gpu_layers = 0x7FFFFFFF if gpu_layers < 0 else gpu_layers  # int32 max: every layer
    params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP
    model = None
    if Path(path).is_file():
        model = llama_cpp.llama_model_load_from_file(str(path).encode("utf-8"), params)
    if not model:
        errors = "; ".join(take_recent_errors()[-3:])
        detail = f" llama.cpp said: {errors}" if errors else ""
        raise error(f"llama.cpp could not load {what or f'“{Path(path).name}”'}.{detail}")
    return model


def llama_cpp_version() -> str:
    """llama.cpp's version and the binding's, as the About window and bug reports show them."""
    try:
        core = llama_cpp.llama_version().decode("utf-8", "replace")
    except (AttributeError, OSError):  # a build of the binding without llama_version
        core = "unknown"
    return f"{core} (llama-cpp-python {llama_cpp.__version__})"


def llama_cpp_features() -> str:
    """What this build of llama.cpp uses of the processor (AVX2, NEON, Metal…)."""
    text = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    used = []
    for part in text.split("|"):  # "CPU : SSE3 = 1 | AVX2 = 1 | …"
        name, _, value = part.rpartition(":")[-1].partition("=")
        if value.strip() == "1":
            used.append(name.strip())
    return ", ".join(used)
