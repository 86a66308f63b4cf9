"""Progress reporting and cooperative cancellation for long-running work.

A long function takes ``progress: Progress`` and ``cancel: CancelToken`` arguments that
default to no-ops, calls ``progress(fraction, message)`` as it goes and ``cancel.check()``
between steps, which raises :class:`Cancelled` once cancel was asked. ``desktop.core.progress``
re-exports these, so the app and the converter share them.
"""

from __future__ import annotations

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
