"""Which turns the model sees when a conversation outgrows its context (issue 30 item 10): a
conversation of 20,001 messages sent to the local API was trimmed two messages at a time, each
time rendering the rest again (quadratic: 6,001 short messages took 582 s). The cut is found with
a few renderings, each about the size of the context (never the whole conversation: llama.cpp
tokenized 20,001 short messages in 13 s), and it is still the fewest pairs left out.

The tokenizer here is a stand-in that counts: one token per word and four per message, and one
call per rendering of the whole prompt, as the engine's tokenize-the-rendered-template does."""

from __future__ import annotations

import math

import pytest

from conversion.errors import PromptTooLongError
from desktop.core.chat.context_window import fit_to_context
from desktop.core.chat.prompts import Message

CONTEXT = 2048
RESERVE = 256


class CountingTokenizer:
    def __init__(self) -> None:
        self.renderings = 0
        self.largest = 0  # tokens of the largest rendering

    def __call__(self, messages: list[Message]) -> list[int]:
        self.renderings += 1
        tokens = [0] * sum(4 + len(m["content"].split()) for m in messages)
        self.largest = max(self.largest, len(tokens))
        return tokens


def conversation(messages: int, system: bool = True) -> list[Message]:
    turns: list[Message] = [{"role": "system", "content": "You are helpful."}] if system else []
    for i in range(messages - 1):
        role = "user" if i % 2 == 0 else "assistant"
        turns.append({"role": role, "content": f"message {i} says a few short words"})  # type: ignore[typeddict-item]
    turns.append({"role": "user", "content": "And the last question?"})
    return turns


@pytest.mark.parametrize("length", [6_001, 20_001])
def test_a_long_conversation_is_cut_with_a_few_renderings(length: int) -> None:
    messages = conversation(length)
    tokenize = CountingTokenizer()
    fitted = fit_to_context(messages, tokenize, CONTEXT, RESERVE)
    # Bisection over the pairs: about log2(pairs) renderings, not one per pair left out.
    assert tokenize.renderings <= math.ceil(math.log2(length)) + 3, tokenize.renderings
    # …none of them of the whole conversation: llama.cpp's tokenizer takes seconds for that.
    assert tokenize.largest <= 2 * CONTEXT, tokenize.largest
    assert fitted.messages[0] == messages[0] and fitted.messages[-1] == messages[-1]
    assert fitted.dropped == len(messages) - len(fitted.messages) > 0
    assert fitted.dropped % 2 == 0  # a question goes with its answer
    target = (CONTEXT - RESERVE) // 2  # half the room is left free for the next turns
    assert len(fitted.tokens) <= target
    # The fewest pairs: keeping one more pair would not fit in that half.
    one_more = [messages[0], *messages[1 + fitted.dropped - 2 :]]
    assert len(CountingTokenizer()(one_more)) > target


def test_the_next_question_starts_where_the_window_started() -> None:
    messages = conversation(6_001)
    first = fit_to_context(messages, CountingTokenizer(), CONTEXT, RESERVE)
    assert first.anchor is not None
    longer = [*messages, {"role": "assistant", "content": "An answer."}]
    longer.append({"role": "user", "content": "One more?"})
    tokenize = CountingTokenizer()
    second = fit_to_context(longer, tokenize, CONTEXT, RESERVE, first.anchor)
    assert tokenize.renderings == 1  # it still fits from the same turn: one rendering
    assert second.messages[1] == first.messages[1]


def test_when_no_earlier_turn_fits_the_next_window_starts_at_that_question() -> None:
    messages = conversation(11)
    long_question = "word " * (CONTEXT - RESERVE - 40)  # more than half the room alone
    messages[-1] = {"role": "user", "content": long_question}
    first = fit_to_context(messages, CountingTokenizer(), CONTEXT, RESERVE)
    assert first.messages == [messages[0], messages[-1]] and first.dropped == 10
    assert first.anchor == ("user", long_question)
    # The next question keeps that question and its answer: nothing more is left out.
    longer = [*messages, {"role": "assistant", "content": "An answer."}]
    longer.append({"role": "user", "content": "One more?"})
    second = fit_to_context(longer, CountingTokenizer(), CONTEXT, RESERVE, first.anchor)
    assert second.messages == [messages[0], *longer[-3:]] and second.dropped == 10


def test_a_question_too_long_alone_is_refused_after_a_few_renderings() -> None:
    messages = conversation(20_001)
    messages[-1] = {"role": "user", "content": "word " * CONTEXT}
    tokenize = CountingTokenizer()
    with pytest.raises(PromptTooLongError):
        fit_to_context(messages, tokenize, CONTEXT, RESERVE)
    assert tokenize.renderings <= math.ceil(math.log2(20_001)) + 3
    assert tokenize.largest <= 2 * CONTEXT + 4  # the question alone is the largest


def test_a_short_conversation_that_fits_is_rendered_once() -> None:
    messages = conversation(21)
    tokenize = CountingTokenizer()
    fitted = fit_to_context(messages, tokenize, CONTEXT, RESERVE)
    assert fitted.messages == messages and fitted.dropped == 0 and fitted.anchor is None
    assert tokenize.renderings == 1


@pytest.mark.parametrize("words", [40, 120, 400])
def test_the_cut_is_the_fewest_pairs_whatever_their_sizes(words: int) -> None:
    """Messages of uneven sizes: the search from the latest turns finds the same cut as leaving
    out one pair at a time would."""
    messages = conversation(401)
    for i in range(1, 400, 7):
        messages[i] = {**messages[i], "content": "word " * (words + i % 50)}
    tokenize = CountingTokenizer()
    fitted = fit_to_context(messages, tokenize, CONTEXT, RESERVE)
    target = (CONTEXT - RESERVE) // 2
    pairs = 0
    while len(tokenize([messages[0], *messages[1 + 2 * pairs :]])) > target:
        pairs += 1
    assert fitted.dropped == 2 * pairs
