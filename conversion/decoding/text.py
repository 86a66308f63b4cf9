"""Sampled tokens → the text of an answer, piece by piece, without llama.cpp.

Kept apart from the decoder so it can be tested on its own: UTF-8 split across tokens, stop
strings (cut off, with text that may begin one held back until it cannot), the end-of-generation
token, the length limit and cancellation. :class:`TextAssembler` is fed one token at a time (the
decoder's scheduler does this for every sequence it runs); :func:`text_stream` is the same over
an iterator of tokens.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from conversion.progress import CancelToken


class _StopStringFilter:
    """Holds back text that might be the start of a stop string; cuts at a full one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns (text safe to show, whether a stop string was reached)."""
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out, False
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.pending = self.pending[:cut], ""
            return out, True
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        split = len(self.pending) - hold
        out, self.pending = self.pending[:split], self.pending[split:]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


@dataclass
class StreamOutcome:
    """How a stream of text ended, filled in as it goes."""

    finish_reason: str = "length"  # "stop", "length" or "cancelled"
    generated_tokens: int = 0
    first_token_at: float = 0.0  # time.perf_counter() of the first token, 0 if none came


class TextAssembler:
    """One answer's tokens → its text deltas: :meth:`feed` each sampled token and show what it
    returns; once it says the answer is done (the end-of-generation token, a stop string or
    ``max_tokens``), nothing more belongs to the answer. ``outcome`` says how it ended."""

    def __init__(
        self,
        piece: Callable[[int], bytes],
        is_end: Callable[[int], bool],
        stops: Sequence[str],
        max_tokens: int,
        outcome: StreamOutcome | None = None,
    ) -> None:
        self._piece, self._is_end, self._max_tokens = piece, is_end, max_tokens
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = _StopStringFilter(stops)
        self.outcome = outcome if outcome is not None else StreamOutcome()

    def feed(self, token: int) -> tuple[str, bool]:
        """(text to show, whether the answer is done) after ``token``."""
        outcome = self.outcome
        if not outcome.first_token_at:
            outcome.first_token_at = time.perf_counter()
        if self._is_end(token):
            outcome.finish_reason = "stop"
            return self.tail(), True
        outcome.generated_tokens += 1
        text, stopped = self._stops.feed(self._decoder.decode(self._piece(token)))
        if stopped:
            outcome.finish_reason = "stop"
            return text, True  # what follows a stop string is not part of the answer
        if outcome.generated_tokens >= self._max_tokens:
            outcome.finish_reason = "length"
            return text + self.tail(), True
        return text, False

    def tail(self) -> str:
        """Text held back because it might have begun a stop string: part of the answer after
        all when the answer ends otherwise (one ending in "C#" where a stop string starts with
        "#")."""
        return self._stops.feed(self._decoder.decode(b"", final=True))[0] + self._stops.flush()


def text_stream(
    tokens: Iterator[int],
    piece: Callable[[int], bytes],
    is_end: Callable[[int], bool],
    stops: Sequence[str],
    max_tokens: int,
    cancel: CancelToken,
    outcome: StreamOutcome,
) -> Iterator[str]:
    """Sampled tokens → text deltas, as :class:`TextAssembler` makes them, with ``cancel``
    checked before the first token and after every one."""
    assembler = TextAssembler(piece, is_end, stops, max_tokens, outcome)
    try:
        if cancel.cancelled:
            outcome.finish_reason = "cancelled"
            return
        for token in tokens:
            if cancel.cancelled:
                outcome.finish_reason = "cancelled"
                break
            text, done = assembler.feed(token)
            if text:
                yield text
            if done:
                return
        tail = assembler.tail()
        if tail:
            yield tail
    except GeneratorExit:  # the caller closed the stream: that is a stop too
        outcome.finish_reason = "cancelled"
        raise
