"""Which turns the model sees when a conversation outgrows its context (issue 30 item 10): a
conversation of 20,001 messages sent to the local API was trimmed two messages at a time, each
time rendering the rest again (quadratic: 6,001 short messages took 582 s). The cut is found with
a few renderings, whatever the conversation's length, and it is still the fewest pairs left out.

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

    def __call__(self, messages: list[Message]) -> list[int]:
        self.renderings += 1
        return [0] * sum(4 + len(m["content"].split()) for m in messages)


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


def test_a_question_too_long_alone_is_refused_after_a_few_renderings() -> None:
    messages = conversation(20_001)
    messages[-1] = {"role": "user", "content": "word " * CONTEXT}
    tokenize = CountingTokenizer()
    with pytest.raises(PromptTooLongError):
        fit_to_context(messages, tokenize, CONTEXT, RESERVE)
    assert tokenize.renderings <= math.ceil(math.log2(20_001)) + 3
