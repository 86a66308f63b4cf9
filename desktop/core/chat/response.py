"""What one answer is asked with, and what it produces: an :class:`AnswerRequest` in, a
:class:`Response` out (its text deltas, then its :class:`GenerationStats` and finish reason).

Plain data, free of llama.cpp: the session, the front ends and the history use these without
loading the engine. The engine fills a Response as it decodes; whoever iterates it gets the text,
and once the iteration ends (or the response is closed) ``stats`` says how it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from conversion.progress import CancelToken
from desktop.core.chat.prompts import Message
from desktop.core.settings import GenerationSettings

# Where a trimmed conversation's window starts: (role, content) of its first kept older turn.
WindowAnchor = tuple[str, str]


@dataclass(frozen=True)
class AnswerRequest:
    """What to send to the model for one answer, how, and the token that stops it.

    ``messages``: the whole conversation, system prompt first; the engine leaves out the oldest
    turns that do not fit (see :mod:`desktop.core.chat.context_window`), starting from
    ``window_anchor`` when the conversation was trimmed before. ``prompt_format``: how to render
    it (``auto``: the model's own chat template). ``stop``: stop strings besides the format's;
    ``json_mode``: constrain sampling to JSON (the API's ``response_format``)."""

    messages: list[Message]
    settings: GenerationSettings
    prompt_format: str = "auto"
    cancel: CancelToken = field(default_factory=CancelToken)
    stop: tuple[str, ...] = ()
    json_mode: bool = False
    window_anchor: WindowAnchor | None = None
    reply: str = ""  # the answer, decided without the model (documents: nothing found)


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int  # the whole prompt
    evaluated_prompt_tokens: int  # what had to be evaluated (the rest came from the cache)
    generated_tokens: int
    time_to_first_token: float  # seconds from the request to the first token
    total_seconds: float
    finish_reason: str  # "stop", "length" or "cancelled"
    dropped_messages: int = 0  # oldest messages left out so the conversation fits

    @property
    def tokens_per_second(self) -> float:
        """Generation speed, prompt processing excluded."""
        decode_time = self.total_seconds - self.time_to_first_token
        if self.generated_tokens < 2 or decode_time <= 0:
            return 0.0
        return (self.generated_tokens - 1) / decode_time

    def record(self) -> dict[str, Any]:
        """The figures kept with an answer in the history."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "evaluated_prompt_tokens": self.evaluated_prompt_tokens,
            "generated_tokens": self.generated_tokens,
            "time_to_first_token": round(self.time_to_first_token, 4),
            "tokens_per_second": round(self.tokens_per_second, 2),
            "finish_reason": self.finish_reason,
            "dropped_messages": self.dropped_messages,
        }


class Response:
    """One answer as it is generated: iterate it for the text, piece by piece.

    ``produce(response)`` is the generator that decodes; it sets :attr:`stats` (and
    :attr:`window_anchor`) when it ends, however it ends. Closing the response early (or
    cancelling the request's token) stops decoding; the stats then say ``cancelled``.
    """

    def __init__(self, produce: Callable[[Response], Iterator[str]]) -> None:
        self.stats: GenerationStats | None = None
        self.window_anchor: WindowAnchor | None = None
        self._deltas = produce(self)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        cast(Generator[str, None, None], self._deltas).close()  # produce is a generator function

    @classmethod
    def fixed(cls, text: str) -> Response:
        """The answer ``text``, given whole, without a model (``AnswerRequest.reply``)."""

        def produce(response: Response) -> Iterator[str]:
            yield text
            response.stats = GenerationStats(0, 0, 0, 0.0, 0.0, "stop")

        return cls(produce)

    def text(self) -> str:
        """Everything that is left of the answer, waiting for it to end."""
        return "".join(self)

    @property
    def finish_reason(self) -> str:
        """``stop``, ``length`` or ``cancelled`` once the response ended; "" before."""
        return self.stats.finish_reason if self.stats is not None else ""
