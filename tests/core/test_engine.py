"""ChatEngine on the real starter model through llama.cpp."""

from __future__ import annotations

import threading
from pathlib import Path

import llama_cpp
import pytest

from conversion.decoding.decoder import BATCH_TOKENS
from conversion.decoding.text import StreamOutcome, text_stream
from conversion.errors import ModelFileError, ModelLoadError, PromptTooLongError
from conversion.progress import CancelToken
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.settings import GenerationSettings
from tests.conftest import COUNT, greedy
from tests.helpers import (
    text_file_named_gguf,
    truncated_copy,
    with_architecture,
    without_chat_template,
)
from tests.scoring import Reference

STORY = "Write a very long story about a dragon who learns to bake bread."

# Stanford Alpaca's template for an instruction without input, as its release publishes it.
STANFORD_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"
)


def respond(
    engine: ChatEngine, question: str, settings: GenerationSettings | None = None
) -> Response:
    return engine.stream([{"role": "user", "content": question}], settings or greedy())


def ask(engine: ChatEngine, question: str, settings: GenerationSettings | None = None) -> str:
    return respond(engine, question, settings).text()


def test_greedy_answer_streams_in_pieces_is_repeatable_and_reports_stats(
    engine: ChatEngine,
) -> None:
    messages = [{"role": "user", "content": STORY}]
    engine.forget_cache()
    response = engine.stream(messages, greedy(40))
    deltas = list(response)
    stats = response.stats
    assert len(deltas) > 10 and all(deltas)  # it arrived piece by piece
    assert stats is not None
    rendered = engine.render_prompt(messages)
    assert stats.prompt_tokens == len(engine.tokenize(rendered.text))
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens  # nothing came from a cache
    assert stats.generated_tokens == 40
    assert stats.finish_reason == "length"
    assert 0 < stats.time_to_first_token < stats.total_seconds
    assert stats.tokens_per_second > 0
    engine.forget_cache()
    assert "".join(engine.stream(messages, greedy(40))) == "".join(deltas)  # same path again


def test_an_answer_that_ends_reports_stop(engine: ChatEngine, count_reference: Reference) -> None:
    response = respond(engine, COUNT, greedy(200))
    answer = response.text()
    assert response.stats is not None and response.stats.finish_reason == "stop"
    assert response.stats.generated_tokens < 200
    count_reference.assert_matches(answer)


def test_uses_the_models_chat_template(engine: ChatEngine) -> None:
    assert engine.info is not None and engine.info.prompt_format == "template"
    text = engine.render_prompt([{"role": "user", "content": "Hi"}]).text
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_stop_from_another_thread_ends_within_one_token_and_model_stays_usable(
    engine: ChatEngine, count_reference: Reference
) -> None:
    request_stop, stopped = threading.Event(), threading.Event()
    cancel = CancelToken()

    def stopper() -> None:
        request_stop.wait(30)
        cancel.cancel()
        stopped.set()

    thread = threading.Thread(target=stopper)
    thread.start()
    after_stop = 0
    tokens_before_stop = 0
    story = [{"role": "user", "content": STORY}]
    response = engine.stream(story, greedy(400), cancel)
    for count, _ in enumerate(response):
        if stopped.is_set():
            after_stop += 1
        elif count == 5:
            tokens_before_stop = count + 1
            request_stop.set()
            assert stopped.wait(10)
    thread.join()
    stats = response.stats
    assert stats is not None and stats.finish_reason == "cancelled"
    assert after_stop <= 1
    assert stats.generated_tokens <= tokens_before_stop + 1
    count_reference.assert_matches(ask(engine, COUNT))  # the cache after a stop is sound


def test_a_request_cancelled_before_it_starts_never_generates(engine: ChatEngine) -> None:
    cancel = CancelToken()
    cancel.cancel()  # Stop pressed between Send and the first token
    response = engine.stream([{"role": "user", "content": STORY}], greedy(400), cancel)
    assert list(response) == []
    assert response.stats is not None
    assert response.stats.finish_reason == "cancelled"
    assert response.stats.generated_tokens == 0
    # the next request has its own token: it runs
    after = respond(engine, STORY, greedy(3))
    assert after.text() and after.finish_reason == "length"


def test_a_cancel_ends_a_long_prompts_evaluation_within_a_batch(
    engine: ChatEngine, count_reference: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 30 item 10: the client of a long conversation leaves (or Ctrl+C stops ``serve``)
    while the prompt is evaluated, before any token: the evaluation stops within a batch
    instead of reading all of the prompt (minutes for a 7B model on a CPU). The decoder
    evaluates a prompt BATCH_TOKENS at a time and drops a cancelled sequence between steps."""
    cancel = CancelToken()
    before: list[int] = []  # tokens per llama_decode call until the cancel
    after: list[int] = []
    real_decode = llama_cpp.llama_decode

    def decode(ctx, batch):  # type: ignore[no-untyped-def]
        if cancel.cancelled:
            after.append(batch.n_tokens)
            return real_decode(ctx, batch)
        before.append(batch.n_tokens)
        code = real_decode(ctx, batch)
        cancel.cancel()  # the client leaves while the first batch is evaluated
        return code

    monkeypatch.setattr(llama_cpp, "llama_decode", decode)
    engine.forget_cache()
    long_turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Note {i}: alpacas hum."}
        for i in range(160)
    ]
    response = engine.stream([*long_turns, {"role": "user", "content": COUNT}], greedy(), cancel)
    assert list(response) == []
    stats = response.stats
    assert stats is not None and stats.finish_reason == "cancelled"
    assert stats.prompt_tokens > BATCH_TOKENS  # a prompt of two batches or more…
    assert before == [BATCH_TOKENS]  # …of which one was read
    count_reference.assert_matches(ask(engine, COUNT))  # the cache after a stop is sound
    # The next answer's prompt (its system prompt cached) and its tokens: no more of the
    # cancelled prompt was evaluated.
    assert after and max(after) < BATCH_TOKENS // 2


def spelled(text: str) -> tuple[list[int], dict[int, bytes]]:
    """Token ids for each character of ``text`` (a stand-in vocabulary)."""
    pieces = {i: ch.encode() for i, ch in enumerate(text)}
    return list(pieces), pieces


END = -1


def test_text_held_back_for_a_stop_string_is_kept_when_the_answer_ends() -> None:
    tokens, pieces = spelled("Use C#")  # "#" could begin the stop string "### Instruction"
    outcome = StreamOutcome()
    text = "".join(
        text_stream(
            iter([*tokens, END]),
            pieces.__getitem__,
            lambda token: token == END,
            ["### Instruction"],
            100,
            CancelToken(),
            outcome,
        )
    )
    assert text == "Use C#"
    assert outcome.finish_reason == "stop" and outcome.generated_tokens == len(tokens)


def test_a_stop_string_ends_the_answer_and_is_not_shown() -> None:
    tokens, pieces = spelled("Sure.### Instruction: more")
    outcome = StreamOutcome()
    text = "".join(
        text_stream(
            iter(tokens), pieces.__getitem__, lambda t: False, ["###"], 100, CancelToken(), outcome
        )
    )
    assert text == "Sure."
    assert outcome.finish_reason == "stop"


def test_closing_the_stream_stops_generation(
    engine: ChatEngine, count_reference: Reference
) -> None:
    stream = engine.stream([{"role": "user", "content": STORY}], greedy(400))
    for _ in range(3):
        next(stream)
    stream.close()
    assert stream.stats is not None
    assert stream.stats.finish_reason == "cancelled"
    assert stream.stats.generated_tokens <= 4
    count_reference.assert_matches(ask(engine, COUNT))


def test_max_tokens_ends_the_answer(engine: ChatEngine) -> None:
    response = respond(engine, STORY, greedy(5))
    response.text()
    assert response.stats is not None
    assert response.stats.generated_tokens == 5
    assert response.stats.finish_reason == "length"


def test_follow_up_evaluates_only_new_tokens(engine: ChatEngine) -> None:
    messages = [{"role": "user", "content": COUNT}]
    answer = engine.stream(messages, greedy()).text()
    follow_up = "And from 6 to 9?"
    messages += [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": follow_up},
    ]
    response = engine.stream(messages, greedy())
    response.text()
    stats = response.stats
    assert stats is not None
    assert stats.prompt_tokens > 40
    # only the closing tag, the new question and the headers around it (about 10 tokens)
    assert stats.evaluated_prompt_tokens <= len(engine.tokenize(follow_up)) + 12


def test_same_seed_gives_same_answer(engine: ChatEngine) -> None:
    settings = GenerationSettings(temperature=0.9, max_tokens=24, seed=1234)
    assert ask(engine, "Tell me a fun fact.", settings) == ask(
        engine, "Tell me a fun fact.", settings
    )


def test_question_longer_than_the_context_is_refused(
    starter_path: Path, count_reference: Reference
) -> None:
    small = ChatEngine(starter_path, context_length=128)
    info = small.load()
    try:
        assert info.context_length < 400  # llama.cpp may round the context up a little
        with pytest.raises(PromptTooLongError, match=f"context holds {info.context_length}"):
            ask(small, "word " * 400)
        count_reference.assert_matches(ask(small, COUNT, greedy(24)))  # still usable afterwards
    finally:
        small.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda src, dst: dst, "does not exist"),
        (lambda src, dst: text_file_named_gguf(dst), "not a GGUF model file"),
        (lambda src, dst: truncated_copy(src, dst, 0.5), "truncated"),
        (lambda src, dst: truncated_copy(src, dst, 0.0005), "truncated"),
    ],
    ids=["missing", "text-file", "truncated-data", "truncated-header"],
)
def test_bad_model_files_raise_a_clear_error(
    starter_path: Path, tmp_path: Path, make, message: str
) -> None:
    bad = make(starter_path, tmp_path / "model.gguf")
    with pytest.raises(ModelFileError, match=message) as caught:
        ChatEngine(bad).load()
    assert caught.value.hint  # says what to do


def test_architecture_llama_cpp_does_not_know_is_reported_with_its_words(
    starter_path: Path, tmp_path: Path
) -> None:
    odd = with_architecture(starter_path, tmp_path / "odd.gguf", b"llamx")
    with pytest.raises(ModelLoadError, match="unknown model architecture: 'llamx'"):
        ChatEngine(odd).load()


def test_model_without_template_uses_the_exact_stanford_alpaca_prompt(
    starter_path: Path, tmp_path: Path
) -> None:
    plain = without_chat_template(starter_path, tmp_path / "no-template.gguf")
    alpaca = ChatEngine(plain, context_length=512)
    info = alpaca.load()
    try:
        assert not info.has_chat_template
        assert info.prompt_format == "alpaca"
        rendered = alpaca.render_prompt([{"role": "user", "content": COUNT}])
        assert rendered.text == STANFORD_NO_INPUT.format(instruction=COUNT)
        assert ask(alpaca, COUNT, greedy(16)).strip()
    finally:
        alpaca.close()


def test_forty_turns_in_a_small_context_keep_answering(starter_path: Path) -> None:
    small = ChatEngine(starter_path, context_length=512)
    small.load()
    system = {"role": "system", "content": "You are a terse assistant called Huacaya."}
    messages = [system]
    settings = greedy(48)
    dropped_turns, reused = 0, 0
    anchor = None  # where the window starts, kept by the conversation (a ChatSession does this)
    try:
        for turn in range(40):
            messages.append({"role": "user", "content": f"Question {turn}: name an animal."})
            response = small.stream(messages, settings, window_anchor=anchor)
            answer = response.text()
            stats, anchor = response.stats, response.window_anchor
            assert stats is not None and stats.generated_tokens > 0, turn
            dropped_turns += stats.dropped_messages > 0
            reused += stats.evaluated_prompt_tokens < stats.prompt_tokens / 2
            messages.append({"role": "assistant", "content": answer})
        fitted = small.fit(
            AnswerRequest(
                [*messages, {"role": "user", "content": "And one more?"}],
                settings,
                window_anchor=anchor,
            )
        )
        kept, tokens = fitted.messages, fitted.tokens
        rendered = small.render_prompt(kept)
    finally:
        small.close()
    assert dropped_turns > 0  # the conversation outgrew the context…
    assert reused > 30  # …yet most turns only evaluated their new tokens
    assert kept[0] == system  # the system prompt is still applied
    assert kept[-1]["content"] == "And one more?"
    assert len(tokens) <= 512 - 48
    assert rendered.text.count("You are a terse assistant called Huacaya.") == 1
