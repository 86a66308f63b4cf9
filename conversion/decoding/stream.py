"""One sequence's side of the decoder: what is asked (:class:`DecodeJob`), what comes back
(:class:`DecodeStream`, iterated from any thread) and how it ended (:class:`DecodeResult`).

The decoder's thread puts events into the stream's queue and never waits for whoever reads it,
so a reader that is slow, stuck or gone holds up no other sequence. The reader ends a stream
early by closing it or cancelling the job's token: either way no more text is handed out, and
the decoder drops the sequence before its next step.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Protocol

from conversion.decoding.sampler import SamplerSettings
from conversion.progress import CancelToken


@dataclass(frozen=True)
class DecodeJob:
    """A prompt to continue, how to sample, where to stop, and the token that cancels it."""

    tokens: list[int]  # the prompt, as the model reads it (BOS included when it wants one)
    sampler: SamplerSettings
    max_tokens: int
    stops: tuple[str, ...] = ()
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass(frozen=True)
class DecodeResult:
    prompt_tokens: int
    cached_tokens: int  # leading prompt tokens taken from the cache (not evaluated again)
    generated_tokens: int
    finish_reason: str  # "stop", "length" or "cancelled"
    submitted: float  # time.perf_counter() when the job was submitted
    first_token_at: float  # … when its first token was sampled (0: none was)
    ended: float
    tokens: tuple[int, ...] = ()  # sampled (the end-of-generation token too), if it ended itself

    @property
    def time_to_first_token(self) -> float:
        return (self.first_token_at or self.ended) - self.submitted

    @property
    def total_seconds(self) -> float:
        return self.ended - self.submitted


@dataclass(frozen=True)
class Delta:
    text: str
    generated_tokens: int  # so far
    first_token_at: float
    cached_tokens: int


@dataclass(frozen=True)
class End:
    result: DecodeResult
    error: BaseException | None = None  # the sequence failed (alone): raised to the reader


class Dropper(Protocol):
    def drop(self, stream: DecodeStream) -> None: ...


class DecodeStream:
    """A sequence's text as the decoder produces it: iterate it; ``result`` once it ended.

    Iterating raises what the sequence failed with (PromptTooLongError, GenerationError), once.
    """

    def __init__(self, job: DecodeJob, owner: Dropper) -> None:
        self.job = job
        self.submitted = time.perf_counter()
        self.result: DecodeResult | None = None
        self.dropped = False  # read by the decoder's thread: the reader wants no more
        self._owner = owner
        self._events: queue.SimpleQueue[Delta | End] = queue.SimpleQueue()
        self._last = Delta("", 0, 0.0, 0)

    def put(self, event: Delta | End) -> None:
        """From the decoder's thread."""
        self._events.put(event)

    def __iter__(self) -> DecodeStream:
        return self

    def __next__(self) -> str:
        while self.result is None:
            if self.job.cancel.cancelled:
                self._end_here()
                break
            event = self._events.get()
            if isinstance(event, End):
                self.result = event.result
                if event.error is not None:
                    raise event.error
                break
            self._last = event
            if self.job.cancel.cancelled:  # cancelled while this piece was on its way
                self._end_here()
                break
            if event.text:
                return event.text
        raise StopIteration

    def close(self) -> None:
        """Stop here (idempotent): the decoder drops the sequence before its next step."""
        if self.result is None:
            self._end_here()

    def text(self) -> str:
        return "".join(self)

    def _end_here(self) -> None:
        last = self._last
        self.result = DecodeResult(
            prompt_tokens=len(self.job.tokens),
            cached_tokens=last.cached_tokens,
            generated_tokens=last.generated_tokens,
            finish_reason="cancelled",
            submitted=self.submitted,
            first_token_at=last.first_token_at,
            ended=time.perf_counter(),
        )
        self.dropped = True
        self._owner.drop(self)
