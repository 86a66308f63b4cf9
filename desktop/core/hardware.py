"""Facts about this computer that decide how a model is run."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys

import psutil


def is_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads do not speed up inference)."""
    physical = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))  # containers and `taskset` limit this
    except AttributeError:  # macOS and Windows have no affinity masks here
        usable = os.cpu_count() or physical
    return max(1, min(physical, usable))


def default_threads() -> int:
    """Threads for llama.cpp when the user chose none: one core fewer than there are.

    llama.cpp's threads wait for each other at every layer, so one thread on a core that
    another program holds slows every token down (measured in benchmarks/threads.py: with all
    cores in use and one other busy process, answers fell to a fraction of their speed). One
    core left free costs little when the computer is idle and keeps the speed when it is not.
    """
    return max(1, physical_cores() - 1)


def default_gpu_layers() -> int:
    """All layers on the GPU with Metal on Apple silicon; CPU everywhere else."""
    return -1 if is_apple_silicon() else 0


@functools.cache  # a fact of this machine and build; llama.cpp's report is asked once
def fast_bf16() -> bool:
    """Whether this CPU and llama.cpp's build multiply bfloat16 weights natively (AVX512-BF16):
    there a bf16 model runs about 1.4× faster than f16 (benchmarks/documents.py)."""
    import llama_cpp  # here: loading llama.cpp is not needed for the other facts

    return "AVX512_BF16 = 1" in llama_cpp.llama_print_system_info().decode(errors="replace")


def total_memory_bytes() -> int:
    return int(psutil.virtual_memory().total)


def release_freed_memory() -> None:
    """Hand memory that was freed back to the system, after one-off work on a large input.

    glibc keeps what a thread freed in that thread's arena for later use: after importing a
    chat with a 50 MB message (parsing it, SQLite indexing it for search) the window kept about
    120 MB more than it needed until it closed. ``malloc_trim`` gives free pages back, from every
    arena. Elsewhere (macOS, Windows, musl) there is nothing to call and nothing is done.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)
