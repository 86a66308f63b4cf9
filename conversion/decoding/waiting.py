"""The line of sequences waiting for a decoder's slots, and when its thread wakes to take them.

Model-free, so the scheduler's admission rules are tested on their own (tests/core/
test_scheduling.py): the decoder thread sleeps while it has nothing to do; woken from idle with
several free slots it waits a moment (``gather_s``) for requests arriving together, so they start
in one step and share what their prompts have in common rather than each wait for the other's
prompt; sequences whose reader left before they got a slot are set aside, never admitted; the
others are taken first come, first served, as many as there are free slots.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

GATHER_S = 0.01  # how long an idle decoder with several free slots waits for companions


class Waiting(Protocol):
    @property
    def gone(self) -> bool: ...  # its reader left or cancelled it


T = TypeVar("T", bound=Waiting)


@dataclass
class Work(Generic[T]):
    """What the decoder thread has to do when it wakes."""

    taken: list[T] = field(default_factory=list)  # for the free slots, in arrival order
    gone: list[T] = field(default_factory=list)  # left before they got a slot: end them
    forget: bool = False  # drop the idle slots' prompt caches


class WaitingLine(Generic[T]):
    """Sequences waiting for a slot. ``put``, ``poke``, ``forget`` and ``close`` from any
    thread; ``next`` and ``drain`` from the decoder's thread."""

    def __init__(self, gather_s: float = GATHER_S) -> None:
        self.gather_s = gather_s
        self._wake = threading.Condition()
        self._line: deque[T] = deque()
        self._closing = False
        self._forget = False

    @property
    def closed(self) -> bool:
        return self._closing

    def put(self, items: Iterable[T]) -> bool:
        """Queue ``items``; False (nothing queued) once the line is closed."""
        with self._wake:
            if self._closing:
                return False
            self._line.extend(items)
            self._wake.notify()
            return True

    def poke(self) -> None:
        """Something changed that the decoder thread should look at (a reader left)."""
        with self._wake:
            self._wake.notify()

    def forget(self) -> None:
        with self._wake:
            self._forget = True
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()

    def next(self, busy: bool, free: int) -> Work[T] | None:
        """Wait until there is something to do, unless ``busy`` (sequences are answering: the
        next step must not wait), and take up to ``free`` waiting sequences. None once closed."""
        with self._wake:
            while not (self._closing or self._line or busy or self._forget):
                self._wake.wait()
            if not busy and free > 1:
                self._gather(free)
            if self._closing:
                return None
            work: Work[T] = Work(forget=self._forget)
            self._forget = False
            kept: deque[T] = deque()
            for item in self._line:
                if item.gone:
                    work.gone.append(item)
                elif len(work.taken) < free:
                    work.taken.append(item)
                else:
                    kept.append(item)
            self._line = kept
            return work

    def _gather(self, free: int) -> None:
        """(Under the lock.) Let requests arriving together come in for up to ``gather_s``,
        until there are enough for every free slot; a wake-up that brought none ends it."""
        deadline = time.monotonic() + self.gather_s
        while self._line and len(self._line) < free and not self._closing:
            before = len(self._line)
            left = deadline - time.monotonic()
            if left <= 0 or not self._wake.wait(left) or len(self._line) == before:
                return

    def drain(self) -> list[T]:
        """Close the line and hand back what still waits (to end as cancelled)."""
        with self._wake:
            self._closing = True
            left, self._line = list(self._line), deque()
            return left
