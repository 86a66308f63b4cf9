"""How many threads a long CPU job takes: the cores that are free when it starts.

Used by training (PyTorch's threads), and by a local teacher generating or scoring data
(llama.cpp's). All are batch work the user starts and leaves running, unlike a chat answer,
which keeps a core free (``desktop/core/hardware.default_threads``).

PyTorch's default is one thread per core, and every operator waits for its slowest thread at the
end of its parallel region. On a machine where something else keeps a core busy (a browser, a
build, another training run), the thread sharing that core is descheduled for whole time slices
and every one of the thousands of small operators of a step waits for it: measured on a 2-core
machine under a load average of 5, a LoRA step of SmolLM2-135M took 2.5–4× longer with 2 threads
than with 1. llama.cpp's threads wait for each other at every layer in the same way. So a job
takes the cores that are idle when it starts (at least 1, at most the physical cores it may run
on); ``--threads`` (or ``OMP_NUM_THREADS``) overrides the choice.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.5  # how long the machine's idle time is sampled before the run starts
MARGIN = 0.3  # a core counts as free when it is at least 70% idle
STALE = 4  # a look over more than this many periods began while the job was idle
BACKGROUND_NICENESS = 5  # about a third of a foreground thread's share of a busy core


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str

    @property
    def automatic(self) -> bool:
        """Chosen from the idle cores (not asked for with ``--threads`` or ``OMP_NUM_THREADS``)."""
        return self.reason not in ("--threads", "OMP_NUM_THREADS")

    def to_dict(self) -> dict[str, object]:
        return {"threads": self.threads, "reason": self.reason}


def usable_cores() -> int:
    """Physical cores this process may run on (hyper-threads share a core's arithmetic)."""
    import psutil

    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    logical = logical or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    per_core = max(1, (os.cpu_count() or logical) // physical)  # hardware threads per core
    return max(1, min(physical, logical // per_core))


def idle_cores(seconds: float = SAMPLE_SECONDS) -> float:
    """Cores' worth of idle time on the whole machine over ``seconds`` (this process sleeps
    meanwhile, so it measures what the others leave free)."""
    import psutil

    busy = psutil.cpu_percent(interval=seconds) / 100.0
    return (1.0 - busy) * (psutil.cpu_count(logical=False) or os.cpu_count() or 1)


def choose_threads(requested: int = 0, *, idle: float | None = None) -> ThreadChoice:
    """``requested`` threads if given, else OMP_NUM_THREADS if set to a positive number, else
    the idle cores."""
    if requested > 0:
        return ThreadChoice(requested, "--threads")
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:  # 0 or a list ("4,2") count as unset
        return ThreadChoice(int(given), "OMP_NUM_THREADS")
    cores = usable_cores()
    free = idle_cores() if idle is None else idle
    threads = max(1, min(cores, int(free + MARGIN)))
    if threads == cores:
        return ThreadChoice(threads, f"all {cores} cores were idle")
    return ThreadChoice(
        threads, f"{free:.1f} of {cores} cores were idle (busy cores slow every thread down)"
    )


def lower_this_threads_priority() -> None:
    """Lower the calling thread's CPU priority, for good (Linux: niceness is per thread, and
    llama.cpp's worker threads, started from it, inherit it; an unprivileged thread cannot raise
    it again, so call it on a thread of the job's own). Elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + BACKGROUND_NICENESS))
    except OSError as exc:
        log.info("could not lower the thread's priority: %s", exc)


class ThreadWatch:
    """Re-choose a running job's threads as the machine's load changes (llama.cpp allows it
    between steps: ``llama_set_n_threads``).

    The choice at the start holds only while the machine stays as it was: a job that took both
    cores of an idle 2-core machine decoded at 21 tokens/s once another program kept one core
    busy, against 56 with one thread (every layer waits for the thread whose core is taken).
    Every ``every`` seconds :meth:`check` measures the cores the other programs kept busy
    meanwhile (the machine's busy time less this process's own), and answers the threads that
    leaves free, when that differs from the current choice twice in a row (a moment's load
    changes nothing); otherwise None. Cheap: two counters read, no sleeping."""

    def __init__(
        self,
        threads: int,
        *,
        every: float = 5.0,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sample: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        self.threads = threads
        self.every = every
        self.cores = cores or usable_cores()
        self._clock = clock
        self._sample = sample or _busy_and_own
        self._pending: int | None = None
        self._last = (clock(), *self._sample())

    def check(self) -> int | None:
        now = self._clock()
        began, busy_before, own_before = self._last
        if now - began < self.every:
            return None
        busy, own = self._sample()
        self._last = (now, busy, own)
        if now - began > STALE * self.every:  # the job was idle meanwhile: start a new look
            self._pending = None
            return None
        others = max(0.0, (busy - busy_before) - (own - own_before)) / (now - began)
        wanted = max(1, min(self.cores, int(self.cores - others + MARGIN)))
        if wanted == self.threads:
            self._pending = None
            return None
        if self._pending != wanted:  # seen once: wait for the next look
            self._pending = wanted
            return None
        self.threads, self._pending = wanted, None
        return wanted


def _busy_and_own() -> tuple[float, float]:
    """The machine's busy CPU time and this process's, in physical-core seconds."""
    import psutil

    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    busy = sum(times) - idle - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    mine = psutil.Process().cpu_times()
    own = mine.user + mine.system
    logical = psutil.cpu_count() or 1
    per_core = max(1, logical // (psutil.cpu_count(logical=False) or logical))
    return busy / per_core, own / per_core
