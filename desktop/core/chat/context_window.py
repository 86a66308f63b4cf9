"""Which turns of a conversation the model sees: the oldest are left out when it does not fit.

Decided here, once, for every front end (the engine calls it with its tokenizer; the session keeps
the window's anchor between answers). The system prompt and the latest question always stay.
When turns must go, enough go to leave half of the room free, and the next questions start from
the same turn until the room is used up again, so they keep reusing the evaluated prefix (the KV
cache) instead of re-reading the conversation every turn. Turns go in pairs (a question and its
answer). The cut is found by bisection over the number of pairs left out: a few renderings, not
one per pair, so a conversation of thousands of messages costs milliseconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conversion.errors import PromptTooLongError
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import WindowAnchor

Tokens = list[int]


@dataclass(frozen=True)
class Fitted:
    messages: list[Message]  # what the model is given
    tokens: Tokens  # ``messages`` rendered and tokenized
    dropped: int  # messages left out
    anchor: WindowAnchor | None  # where the window starts now (None: nothing left out)


def fit_to_context(
    messages: Sequence[Message],
    tokenize: Callable[[list[Message]], Tokens],
    context: int,
    reserve: int,
    anchor: WindowAnchor | None = None,
) -> Fitted:
    """Leave out the oldest turns until the prompt leaves ``reserve`` tokens of ``context`` for
    the answer. ``tokenize`` renders messages with the prompt format and tokenizes them;
    ``anchor``: where the window started last time in this conversation. A question that does
    not fit even alone is refused with :class:`PromptTooLongError`."""
    budget = context - reserve
    system = [m for m in messages[:1] if m["role"] == "system"]
    older, latest = list(messages[len(system) : -1]), list(messages[-1:])
    # Starting where the last window started keeps the prompt's prefix identical, so llama.cpp's
    # cache still holds it.
    start = next(
        (
            i
            for i, m in enumerate(older)
            if anchor is not None and (m["role"], m["content"]) == anchor
        ),
        0,
    )
    older = older[start:]
    tokens = tokenize(system + older + latest)
    if len(tokens) > budget:
        older, tokens = _drop_oldest(system, older, latest, tokenize, budget // 2, tokens)
    if len(tokens) > budget:
        raise PromptTooLongError(
            f"This question is {len(tokens):,} tokens long with the system prompt; the model's "
            f"context holds {context:,} tokens and {reserve:,} are kept for the answer.",
            "Shorten the question, lower the answer length, or raise the context length in "
            "Settings.",
        )
    kept = system + older + latest
    dropped = len(messages) - len(kept)
    new_anchor = (older[0]["role"], older[0]["content"]) if dropped and older else None
    return Fitted(kept, tokens, dropped, new_anchor)


def _drop_oldest(
    system: list[Message],
    older: list[Message],
    latest: list[Message],
    tokenize: Callable[[list[Message]], Tokens],
    target: int,
    tokens: Tokens,
) -> tuple[list[Message], Tokens]:
    """The fewest oldest pairs to leave out so the prompt is at most ``target`` tokens (all of
    ``older`` when even that is not enough), found by bisection."""

    def without(pairs: int) -> list[Message]:
        return older[min(2 * pairs, len(older)) :]

    most = (len(older) + 1) // 2  # leaving out this many pairs leaves nothing older
    low, high = 0, most  # fits(high) is assumed: nothing older is the least we can send
    rendered: dict[int, Tokens] = {0: tokens}
    while low < high:
        middle = (low + high) // 2
        rendered[middle] = tokenize(system + without(middle) + latest)
        if len(rendered[middle]) <= target:
            high = middle
        else:
            low = middle + 1
    best = rendered.get(low) or tokenize(system + without(low) + latest)
    return without(low), best
