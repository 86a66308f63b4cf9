"""Progress reporting and cooperative cancellation for long-running work.

A long function takes ``progress: Progress`` and ``cancel: CancelToken`` arguments that
default to no-ops, calls ``progress(fraction, message)`` as it goes and ``cancel.check()``
between steps, which raises :class:`Cancelled` once cancel was asked. ``desktop.core.progress``
re-exports these, so the app and the converter share them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from conversion.errors import Cancelled


class Progress(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


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
