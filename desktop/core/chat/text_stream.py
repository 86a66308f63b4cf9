"""Sampled tokens → the text of an answer, piece by piece, without llama.cpp.

Kept apart from the engine so it can be tested on its own: UTF-8 split across tokens, stop
strings (cut off, with text that may begin one held back until it cannot), the end-of-generation
token, the length limit and cancellation.
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
    """How a stream of text ended, filled in by :func:`text_stream` as it goes."""

    finish_reason: str = "length"  # "stop", "length" or "cancelled"
    generated_tokens: int = 0
    first_token_at: float = 0.0  # time.perf_counter() of the first token, 0 if none came


def text_stream(
    tokens: Iterator[int],
    piece: Callable[[int], bytes],
    is_end: Callable[[int], bool],
    stops: Sequence[str],
    max_tokens: int,
    cancel: CancelToken,
    outcome: StreamOutcome,
) -> Iterator[str]:
    """Sampled tokens → text deltas: UTF-8 split across tokens, stop strings cut off (text that
    may begin one is held back until it cannot), the end-of-generation token, the length limit
    and ``cancel``, checked before the first token and after every one."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stop_filter = _StopStringFilter(stops)
    try:
        if cancel.cancelled:
            outcome.finish_reason = "cancelled"
            return
        for token in tokens:
            if cancel.cancelled:
                outcome.finish_reason = "cancelled"
                break
            if not outcome.first_token_at:
                outcome.first_token_at = time.perf_counter()
            if is_end(token):
                outcome.finish_reason = "stop"
                break
            outcome.generated_tokens += 1
            text, stopped = stop_filter.feed(decoder.decode(piece(token)))
            if text:
                yield text
            if stopped:
                outcome.finish_reason = "stop"
                return  # what follows a stop string is not part of the answer
            if outcome.generated_tokens >= max_tokens:
                break
        # Text held back because it might have begun a stop string is part of the answer
        # after all (an answer ending in "C#" where a stop string starts with "#").
        tail = stop_filter.feed(decoder.decode(b"", final=True))[0] + stop_filter.flush()
        if tail:
            yield tail
    except GeneratorExit:  # the caller closed the stream: that is a stop too
        outcome.finish_reason = "cancelled"
        raise
