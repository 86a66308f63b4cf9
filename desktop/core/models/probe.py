"""Open a model file for the first time in a child process, so a crash costs a message, not the app.

:func:`conversion.gguf_validate.validate_gguf` refuses what we know llama.cpp trusts; whatever
else makes llama.cpp ``abort()`` (a C++ exception escaping, an assertion) would take the whole
window down with it. So the first time a file is opened, a child process loads it with a small
context, evaluates a few tokens and renders the chat template once with a probe conversation,
then reports. The verdict is remembered by the file's path, size, modification time and a hash
of its header (everything before the tensor data), in the cache folder (``paths.cache_dir``),
so the check costs one extra second once per file, never per load, and a file changed in place
(even keeping its size and time) is checked again before the main process loads it.

What the child does with the file is given by the caller (``answer``: the chat engine's own
answering path, see :func:`desktop.core.chat.engine.check_model`), so this module runs and
remembers checks without knowing the engine.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import ModelLoadError
from conversion.gguf_file import read_gguf_info
from conversion.gguf_info import GGUFInfo
from conversion.output import atomic_write_text
from conversion.ownership import adopt_child, die_with_parent, kill_tree
from conversion.progress import CancelToken
from desktop.core import paths

log = logging.getLogger(__name__)

PROBE_CONTEXT = 256


@dataclass(frozen=True)
class ProbeVerdict:
    template_problem: str = ""  # why the model's chat template cannot be used, if it cannot
    fallback_format: str = "alpaca"  # the format to use instead


def _cache_file() -> Path:
    return paths.cache_dir() / "model-checks.json"


def _key(path: Path, header: GGUFInfo) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{header.header_digest}"


def _read_cache() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, verdict: ProbeVerdict) -> None:
    cache = _read_cache()
    cache[key] = {
        "template_problem": verdict.template_problem,
        "fallback_format": verdict.fallback_format,
    }
    try:
        atomic_write_text(_cache_file(), json.dumps(cache, indent=1))
    except OSError as exc:  # a read-only home: the check simply runs again next time
        log.warning("could not remember the model check: %s", exc)


def _cached(key: str) -> ProbeVerdict | None:
    entry = _read_cache().get(key)
    if not isinstance(entry, dict):
        return None
    problem, fallback = entry.get("template_problem"), entry.get("fallback_format")
    if not isinstance(problem, str) or not isinstance(fallback, str):
        return None
    return ProbeVerdict(problem, fallback)


# In the child: open the model at ``path`` with ``gpu_layers`` and answer a probe; returns the
# verdict's (template problem, fallback format). A module-level function (it crosses ``spawn``).
ProbeAnswer = Callable[[str, int], tuple[str, str]]


def probe_model(
    path: Path,
    answer: ProbeAnswer,
    gpu_layers: int = 0,
    cancel: CancelToken | None = None,
    timeout: float = 0.0,
    header: GGUFInfo | None = None,
) -> ProbeVerdict:
    """The verdict for ``path``: from memory, or by running ``answer`` in a child process now.

    ``header``: what :func:`read_gguf_info` just read of it (read here otherwise); the main
    process loads the file right after, so the verdict applies to those very bytes.
    Raises :class:`ModelLoadError` when llama.cpp refuses the file, crashes on it or hangs.
    """
    key = _key(path, header or read_gguf_info(path))
    verdict = _cached(key)
    if verdict is not None:
        return verdict
    verdict = _run_child(path, answer, gpu_layers, cancel or CancelToken(), timeout)
    _remember(key, verdict)
    return verdict


def _run_child(
    path: Path, answer: ProbeAnswer, gpu_layers: int, cancel: CancelToken, timeout: float
) -> ProbeVerdict:
    # Loading maps the file; allow for a slow disk on big files, and a generous start-up.
    limit = timeout or 60.0 + path.stat().st_size / 200e6
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_probe_in_child,
        args=(answer, str(path), gpu_layers, sender, os.getpid()),
        daemon=True,
    )
    process.start()
    adopt_child(process.pid)
    sender.close()
    deadline = time.monotonic() + limit
    reply = None
    try:
        while not receiver.poll(0.1):
            if not process.is_alive() and not receiver.poll(0):
                break
            if time.monotonic() > deadline:
                raise ModelLoadError(
                    f"llama.cpp did not finish opening “{path.name}” within {limit:.0f} s.",
                    "The file is probably damaged or hostile; use another model.",
                )
            cancel.check()
        reply = receiver.recv() if receiver.poll(0) else None
    except EOFError:
        pass  # it died before saying anything
    finally:
        if reply is None and not cancel.cancelled and time.monotonic() <= deadline:
            process.join(5)  # it is dying: collect how it ended
        if process.is_alive():
            kill_tree(process.pid, timeout=1.0)
        process.join(5)
        receiver.close()
    if reply is None:
        code = process.exitcode
        reason = (
            f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        )
        raise ModelLoadError(
            f"llama.cpp crashed while opening “{path.name}” ({reason}).",
            "The file is damaged or uses something this version of llama.cpp cannot handle; "
            "use another model or quantization.",
        )
    if reply[0] == "error":
        raise ModelLoadError(reply[1], reply[2] or None)
    return ProbeVerdict(reply[1], reply[2])


def _probe_in_child(answer: ProbeAnswer, path: str, gpu_layers: int, sender, parent: int) -> None:
    """Run ``answer`` on the file; report ("ok", problem, fallback) or ("error", message, hint)."""
    die_with_parent(parent)  # the window killed with kill -9 takes its probe along
    os.environ["GGML_NO_BACKTRACE"] = "1"  # an abort here is expected: no debugger backtrace
    # llama.cpp's error lines reach the user inside the message sent back; without a handler
    # here, Python's last-resort handler would print them raw on the terminal as well.
    logging.getLogger("llama.cpp").addHandler(logging.NullHandler())
    from conversion.errors import HuacayaError

    try:
        problem, fallback = answer(path, gpu_layers)
        sender.send(("ok", problem, fallback))
    except HuacayaError as exc:
        sender.send(("error", exc.message, exc.hint))
    except Exception as exc:  # the child's whole purpose is to turn any failure into a message
        said = f"llama.cpp could not open “{Path(path).name}”: {type(exc).__name__}: {exc}"
        sender.send(("error", said, ""))
    finally:
        sender.close()
