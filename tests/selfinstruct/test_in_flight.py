"""A local teacher is kept busy: each request is asked on its own and the next as soon as one is
answered (``concurrent`` teachers, runner.py's ``_Asking``), and the records kept are exactly
those asked a batch at a time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from conversion.errors import Cancelled
from conversion.progress import CancelToken
from conversion.selfinstruct.journal import journal_path
from conversion.selfinstruct.openai_teacher import OpenAITeacher
from conversion.selfinstruct.runner import GenerationConfig, generate, request_seed
from conversion.selfinstruct.teachers import Activity, Reply, Sampling
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS

TIMEOUT = 10.0


class InFlight:
    """The loopback teacher asked one request per call from the runner's threads, as a GGUF
    teacher is; ``hold`` keeps one request's reply back until ``release`` is set."""

    concurrent = True
    continuation = True

    def __init__(self, url: str, hold: int | None = None) -> None:
        self.client = OpenAITeacher("loopback-model", url, backoff=0.01)
        self.identity = self.client.identity
        self.continuation = self.client.continuation
        self.requests = {request_seed(0, r): r for r in range(200)}
        self.hold, self.release = hold, threading.Event()
        self.answered: list[int] = []
        self.lock = threading.Lock()
        self.most_at_once = self.now = 0
        self.released_in_time = True

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
    ) -> list[Reply]:
        assert len(prompts) == 1, "a concurrent teacher is asked one request at a time"
        request = self.requests[seeds[0]]
        with self.lock:
            self.now += 1
            self.most_at_once = max(self.most_at_once, self.now)
        try:
            if request == self.hold:
                self.released_in_time = self.release.wait(TIMEOUT)
            replies = self.client.generate(prompts, seeds, sampling, cancel, activity)
        finally:
            with self.lock:
                self.now -= 1
                self.answered.append(request)
                if len(self.answered) >= 4:  # requests after the held one were answered
                    self.release.set()
        return replies

    def close(self) -> None:
        self.client.close()


def test_records_are_the_same_as_asked_a_batch_at_a_time(
    teacher: LoopbackTeacher, tmp_path: Path
) -> None:
    config = GenerationConfig(num=30, batch_size=3)
    batched = OpenAITeacher("loopback-model", teacher.url, backoff=0.01)
    try:
        generate(SMALL_SEEDS, batched, tmp_path / "batched.json", config)
    finally:
        batched.close()
    in_flight = InFlight(teacher.url)
    try:
        result = generate(SMALL_SEEDS, in_flight, tmp_path / "in_flight.json", config)
    finally:
        in_flight.close()
    assert (tmp_path / "in_flight.json").read_bytes() == (tmp_path / "batched.json").read_bytes()
    assert in_flight.most_at_once <= 3
    # Every request asked is journaled on its own, in order, none twice or missing.
    lines = journal_path(tmp_path / "in_flight.json").read_text().splitlines()[1:]
    assert result.requests == len(lines) > 0


def test_a_slow_reply_does_not_keep_the_other_slots_idle(
    teacher: LoopbackTeacher, tmp_path: Path
) -> None:
    """The first request's reply is held back until four others have been answered: with the
    slots refilled as replies come, they are; asked a batch at a time, none would be."""
    in_flight = InFlight(teacher.url, hold=0)
    try:
        generate(
            SMALL_SEEDS, in_flight, tmp_path / "d.json", GenerationConfig(num=10, batch_size=2)
        )
    finally:
        in_flight.close()
    assert in_flight.released_in_time, "the held request blocked the others"
    assert in_flight.answered.index(0) >= 4
    assert in_flight.most_at_once <= 2


def test_cancelling_stops_the_requests_in_flight(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    in_flight = InFlight(teacher.url, hold=0)
    cancel = CancelToken()

    def progress(fraction: float, message: str) -> None:
        if len(in_flight.answered) >= 2:
            cancel.cancel()

    try:
        with pytest.raises(Cancelled):
            generate(
                SMALL_SEEDS,
                in_flight,
                tmp_path / "d.json",
                GenerationConfig(num=500, batch_size=2),
                progress=progress,
                cancel=cancel,
            )
    finally:
        in_flight.release.set()
        in_flight.close()
