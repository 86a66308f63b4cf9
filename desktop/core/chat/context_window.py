"""Which turns of a conversation the model sees: the oldest are left out when it does not fit.

Decided here, once, for every front end (the engine calls it with its tokenizer; the session keeps
the window's anchor between answers). The system prompt and the latest question always stay.
When turns must go, enough go to leave half of the room free, and the next questions start from
the same turn until the room is used up again, so they keep reusing the evaluated prefix (the KV
cache) instead of re-reading the conversation every turn. Turns go in pairs (a question and its
answer). The cut is found from the latest turns back, doubling the number of pairs kept until
they no longer fit and then bisecting: a few renderings, each about the size of the context,
never of the whole conversation. (llama.cpp's tokenizer takes time that grows faster than the
text when it looks for special tokens: 20,001 short messages took 13 s to tokenize once, so
renderings of the whole conversation made one request cost minutes.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conversion.errors import PromptTooLongError
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import WindowAnchor

Tokens = list[int]
# A conversation longer than this many characters per token of the room is not rendered whole
# to see whether it fits (real text has about 4): the cut is searched from its latest turns.
MOST_CHARACTERS_PER_TOKEN = 8


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
    older = older[window_start(older, anchor) :]
    whole = system + older + latest
    tokens: Tokens | None = None
    if sum(len(m["content"]) for m in whole) <= budget * MOST_CHARACTERS_PER_TOKEN:
        tokens = tokenize(whole)  # likely fits: one rendering
    if tokens is None or len(tokens) > budget:
        older, tokens = _drop_oldest(system, older, latest, tokenize, budget, tokens)
    if len(tokens) > budget:
        raise PromptTooLongError(
            f"This question is {len(tokens):,} tokens long with the system prompt; the model's "
            f"context holds {context:,} tokens and {reserve:,} are kept for the answer.",
            "Shorten the question, lower the answer length, or raise the context length in "
            "Settings.",
        )
    kept = system + older + latest
    dropped = len(messages) - len(kept)
    # The next window starts where this one does: at its oldest turn, or at the latest question
    # when no earlier turn fits (not from the beginning again, dropping the same turns anew).
    first = (older or latest)[0]
    new_anchor = (first["role"], first["content"]) if dropped else None
    return Fitted(kept, tokens, dropped, new_anchor)


def window_start(older: Sequence[Message], anchor: WindowAnchor | None) -> int:
    """Where in ``older`` (the turns before the latest question, no system prompt) the window
    that started at ``anchor`` starts: the messages before it are left out already."""
    if anchor is None:
        return 0
    return next((i for i, m in enumerate(older) if (m["role"], m["content"]) == anchor), 0)


def _drop_oldest(
    system: list[Message],
    older: list[Message],
    latest: list[Message],
    tokenize: Callable[[list[Message]], Tokens],
    budget: int,
    whole: Tokens | None,
) -> tuple[list[Message], Tokens]:
    """``older`` as it is when it all fits in ``budget`` (``whole``: its tokens, if rendered),
    else the fewest oldest pairs left out so the prompt is at most half of ``budget`` (all of
    ``older`` when even that is not enough)."""
    target = budget // 2
    most = (len(older) + 1) // 2  # pairs in ``older`` (the oldest may be a lone message)

    def keeping(pairs: int) -> list[Message]:
        return older[max(len(older) - 2 * pairs, 0) :]

    rendered: dict[int, Tokens] = {} if whole is None else {most: whole}

    def fits(pairs: int, limit: int) -> bool:
        if pairs not in rendered:
            rendered[pairs] = tokenize(system + keeping(pairs) + latest)
        return len(rendered[pairs]) <= limit

    # Double the pairs kept while they fit: each rendering is at most about twice what fits.
    fitting, pairs = 0, 1
    while pairs < most and fits(pairs, target):
        fitting, pairs = pairs, 2 * pairs
    if pairs >= most and fits(most, budget):  # all of it fits after all (never when ``whole``)
        return older, rendered[most]
    too_many = min(pairs, most)
    while too_many - fitting > 1:  # fits(fitting) and not fits(too_many)
        middle = (fitting + too_many) // 2
        if fits(middle, target):
            fitting = middle
        else:
            too_many = middle
    if fitting not in rendered:
        rendered[fitting] = tokenize(system + keeping(fitting) + latest)
    return keeping(fitting), rendered[fitting]
