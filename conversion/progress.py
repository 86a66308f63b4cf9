"""Progress reporting and cooperative cancellation for long-running work.

A long function takes ``progress: Progress`` and ``cancel: CancelToken`` arguments that
default to no-ops, calls ``progress(fraction, message)`` as it goes and ``cancel.check()``
between steps, which raises :class:`Cancelled` once cancel was asked. The app and the converter
share these (``conversion`` is the base library both import). :class:`ProgressBar` shows such
progress as one line on a terminal, for every command.
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from conversion.errors import Cancelled


class Progress(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


def duration_text(seconds: float, *, whole_minutes: bool = False) -> str:
    """A duration for people: "45 s", "12 min 05 s", "1 h 05 min". ``whole_minutes`` rounds
    to the minute from two minutes on ("about 12 min", where seconds would be false precision).
    Every progress line and estimate uses it (training, indexing, the studio's estimates)."""
    whole = max(round(seconds), 0)
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    if whole_minutes:
        return f"{round(whole / 60)} min" if whole >= 120 else f"{whole} s"
    if whole >= 60:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole} s"


def no_progress(fraction: float, message: str = "") -> None:
    """The default progress callback: ignores everything."""


def sub_range(progress: Progress, start: float, end: float) -> Progress:
    """A callback that maps 0..1 onto ``start..end`` of ``progress``."""

    def scaled(fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        progress(start + (end - start) * fraction, message)

    return scaled


class CancelToken:
    """Thread-safe flag: set from any thread, checked by the worker. One token per request,
    created with it and never reset, so a cancel can never be lost or leak into the next one.

    ``event`` may be a ``multiprocessing`` Event, so that a process can cancel work running in
    another one (the window cancels a job running in its own process this way).
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


NEVER_CANCELLED = CancelToken()


@contextmanager
def cancel_on_interrupt(token: CancelToken | None = None) -> Iterator[CancelToken]:
    """While inside, Ctrl+C (SIGINT) cancels ``token`` (a new one by default) instead of killing
    the program, so command-line work stops cleanly; the previous handler comes back after.
    Outside the main thread, where signals cannot be handled, the token is simply yielded."""
    token = token if token is not None else CancelToken()

    def on_interrupt(signum: int, frame: object) -> None:
        token.cancel()

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread
        yield token
        return
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)


class ProgressBar:
    """One self-rewriting line on a terminal; plain lines every 10% otherwise."""

    def __init__(self, stream=sys.stderr, width: int = 30, message_width: int | None = 50) -> None:
        """``message_width`` None: as wide as the terminal leaves room for."""
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        if message_width is None:
            message_width = max(20, shutil.get_terminal_size().columns - width - 11)
        self.message_width = message_width
        self.last_decile = -1
        self.started = time.perf_counter()

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if self.tty:
            filled = int(fraction * self.width)
            bar = "█" * filled + "·" * (self.width - filled)
            text = message[: self.message_width].ljust(self.message_width)
            self.stream.write(f"\r{bar} {fraction:6.1%}  {text}")
            self.stream.flush()
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(f"{fraction:6.1%}  {message}\n")

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
