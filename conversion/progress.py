"""Progress reporting and cooperative cancellation for long-running work.

A long function takes ``progress: Progress`` and ``cancel: CancelToken`` arguments that
default to no-ops, calls ``progress(fraction, message)`` as it goes and ``cancel.check()``
between steps, which raises :class:`Cancelled` once cancel was asked. ``desktop.core.progress``
re-exports these, so the app and the converter share them.
"""

from __future__ import annotations

import signal
import threading
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
    """Thread-safe flag: set from any thread, checked by the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


NEVER_CANCELLED = CancelToken()


def cancel_on_interrupt() -> CancelToken:
    """A token that Ctrl+C (SIGINT) cancels, for command-line tools: the work stops cleanly."""
    token = CancelToken()

    def on_interrupt(signum: int, frame: object) -> None:
        token.cancel()

    signal.signal(signal.SIGINT, on_interrupt)
    return token
