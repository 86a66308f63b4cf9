"""Quantize a GGUF with llama.cpp's own quantizer (all K-quants), in a child process.

``llama_model_quantize`` has no progress callback and cannot be interrupted, so it runs in a
spawned process: cancelling terminates that process, and progress comes from the one line per
tensor (``[  i/  n] name …``) that llama.cpp logs, parsed in the child and sent over a queue.
The result is written under a temporary name and renamed only on success.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import time
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import Cancelled, ConversionError
from conversion.gguf_file import read_gguf_info
from conversion.output import check_destination, partial_file
from conversion.ownership import adopt_child, die_with_parent
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

QUANT_TYPES = {  # name → llama_ftype
    "q4_0": 2,
    "q8_0": 7,
    "q4_k_m": 15,
    "q5_k_m": 17,
    "q6_k": 18,
}
_FLOAT_FILE_TYPES = {0, 1, 32}  # all F32, mostly F16, mostly BF16
_TENSOR_LINE = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\]\s+(\S+)")
POLL_SECONDS = 0.1


@dataclass
class QuantizeResult:
    path: Path
    qtype: str
    bytes_written: int
    seconds: float


def _child(
    src: str, dst: str, ftype: int, threads: int, requantize: bool, out, parent: int
) -> None:
    """Runs in the spawned process: quantize, reporting each tensor and the outcome."""
    import ctypes

    die_with_parent(parent)

    import llama_cpp

    errors: list[str] = []

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace")
        match = _TENSOR_LINE.search(line)
        if match:
            out.put(("tensor", int(match[1]), int(match[2]), match[3]))
        elif level == 4:  # GGML_LOG_LEVEL_ERROR
            errors.append(line.strip())

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = requantize
    code = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    out.put(("done", code, "; ".join(errors[-3:])))


def quantize(
    src: str | Path,
    dst: str | Path,
    qtype: str = "q4_k_m",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    threads: int = 0,
    force: bool = False,
) -> QuantizeResult:
    """Quantize the GGUF ``src`` to ``dst`` as ``qtype`` (q4_0, q4_k_m, q5_k_m, q6_k, q8_0)."""
    started = time.perf_counter()
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    qtype = qtype.lower()
    if qtype not in QUANT_TYPES:
        raise ConversionError(
            f"Unknown quantization “{qtype}”.", f"Choose one of {', '.join(QUANT_TYPES)}."
        )
    if not src.is_file():
        raise ConversionError(f"“{src}” does not exist.")
    check_destination(dst, force)
    requantize = read_gguf_info(src).metadata.get("general.file_type") not in _FLOAT_FILE_TYPES
    tmp = partial_file(dst)
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    worker = context.Process(
        target=_child,
        args=(
            str(src),
            str(tmp),
            QUANT_TYPES[qtype],
            threads or (os.cpu_count() or 1),
            requantize,
            messages,
            os.getpid(),
        ),
        daemon=True,
    )
    progress(0.0, f"Quantizing to {qtype.upper()}")
    try:
        worker.start()
        adopt_child(worker.pid)
        outcome = _follow(worker, messages, progress, cancel)
        code, said = outcome
        if code != 0:
            raise ConversionError(
                f"llama.cpp could not quantize “{src.name}” (code {code}). {said}".strip(),
                "Check that the file is a complete GGUF model and that the disk has space.",
            )
        os.replace(tmp, dst)
    except BaseException:
        if worker.pid is not None:  # it may have failed to start at all
            if worker.is_alive():
                worker.terminate()
            worker.join(10)
        tmp.unlink(missing_ok=True)
        raise
    worker.join(10)
    progress(1.0, f"Wrote {dst.name}")
    return QuantizeResult(dst, qtype, dst.stat().st_size, time.perf_counter() - started)


def _follow(worker, messages, progress: Progress, cancel: CancelToken) -> tuple[int, str]:
    while True:
        if cancel.cancelled:
            worker.terminate()
            raise Cancelled("Quantization cancelled.")
        try:
            message = messages.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not worker.is_alive() and messages.empty():
                raise ConversionError(
                    f"The quantizer stopped unexpectedly (exit code {worker.exitcode}).",
                    "The computer may have run out of memory; close other programs and retry.",
                ) from None
            continue
        if message[0] == "tensor":
            _, index, total, name = message
            progress(min(index / total, 1.0) * 0.99, f"Tensor {index}/{total}: {name}")
        else:
            return int(message[1]), str(message[2])
