"""The context meter: the next prompt's tokens counted as the engine counts them, and the
earlier messages the next question would push out, decided as the engine decides them."""

from __future__ import annotations

from desktop.core.chat.context_meter import Draft, measure
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.message import ChatMessage
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import AnswerRequest
from desktop.core.chat.session import ChatSession
from desktop.core.settings import GenerationSettings


def words(messages: list[Message]) -> list[int]:
    """A token per word, and two per message (its markers)."""
    return [0] * sum(len(m["content"].split()) + 2 for m in messages)


def turns(pairs: int, length: int = 20) -> list[Message]:
    found: list[Message] = []
    for i in range(pairs):
        found.append({"role": "user", "content": f"question {i} " + "word " * length})
        found.append({"role": "assistant", "content": f"answer {i} " + "word " * length})
    return found


def test_the_count_grows_with_the_draft_and_says_nothing_while_everything_fits() -> None:
    chat = [{"role": "system", "content": "Be kind."}, *turns(2)]
    short = measure(Draft(chat, "Hi", "auto", 100), words, 1000)
    longer = measure(Draft(chat, "Hi there my friend", "auto", 100), words, 1000)
    assert short.used == len(words([*chat, {"role": "user", "content": "Hi"}]))
    assert longer.used == short.used + 3
    assert longer.text == f"{longer.used:,} / 1,000 tokens" and not longer.warning
    assert short.reserve == 100


def test_a_question_that_overflows_says_how_many_earlier_messages_go() -> None:
    chat = turns(4)  # 4 × 2 × 23 = 184 tokens
    use = measure(Draft(chat, "word " * 30, "auto", 64), words, 256)  # room for 192
    assert use.warning and use.will_leave_out >= 2 and use.will_leave_out % 2 == 0
    assert f"{use.will_leave_out} earlier messages will be left out" in use.text
    assert use.used is not None and use.used > 192


def test_messages_already_left_out_are_not_counted_as_new() -> None:
    chat = turns(4)
    anchor = (chat[4]["role"], chat[4]["content"])  # the window starts at the third question
    use = measure(Draft(chat, "next", "auto", 64, anchor), words, 256)
    assert use.left_out == 4 and use.will_leave_out == 0 and not use.warning
    assert use.text.endswith("4 earlier messages left out")


def test_a_question_too_long_for_the_context_is_a_warning_not_an_error() -> None:
    use = measure(Draft([], "word " * 500, "auto", 64), words, 256)
    assert use.too_long and use.warning and "too long" in use.text


def test_the_engine_counts_with_the_models_own_tokenizer_and_template(
    engine: ChatEngine,
) -> None:
    session = ChatSession(None)
    session.configure(system_prompt="You are terse.")
    for message in turns(2, 5):
        session.messages.append(ChatMessage(message["role"], message["content"]))
    draft = session.draft("How many legs has a spider?")
    use = engine.measure(draft)
    asked = [*session.prompt_messages(), {"role": "user", "content": draft.draft}]
    tokens, _ = engine.prompt_tokens(asked)
    assert use.used == len(tokens)
    assert use.context == engine.info.context_length  # type: ignore[union-attr]
    # …the same prompt the engine would fit for the answer
    request = AnswerRequest(asked, GenerationSettings(), "auto")
    assert len(engine.fit(request).tokens) == use.used
