"""Answers decoded together (continuous batching) on the real starter model: each is the answer
it would be alone, keeps its own limits, stop strings, sampler and cancel token, and no answer —
cancelled, unread, too long — holds up or breaks the others.

Answers are compared with the same engine's answers one at a time, up to the first near-tie
(tests/scoring.py): another batch shape adds floats in another order.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from conversion.decoding import decoder as decoder_module
from conversion.decoding.decoder import BatchDecoder, cells_and_attention
from conversion.decoding.model import GgufModel
from conversion.decoding.prefix import SharedRun, common_prefix, shared_runs
from conversion.decoding.sampler import SamplerSettings
from conversion.decoding.scheduler import Scheduler
from conversion.decoding.stream import DecodeJob
from conversion.errors import GenerationError, PromptTooLongError
from conversion.progress import CancelToken
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.settings import GenerationSettings
from tests.conftest import COUNT, QUESTIONS, greedy
from tests.scoring import Reference, greedy_reference

STORY = "Write a very long story about a dragon who learns to bake bread."
TIMEOUT = 120


def test_prompts_starting_together_share_what_they_have_in_common() -> None:
    prompts = {
        "a": (0, [1, 2, 3, 4, 5, 6]),
        "b": (0, [1, 2, 3, 4, 7]),
        "c": (0, [1, 2, 9, 9]),
        "d": (0, [1, 2, 3, 4, 5, 8]),
        "e": (2, [1, 2, 3, 4]),  # its cache holds [1, 2]: a history of its own
        "f": (0, [5, 5]),
    }
    assert shared_runs(prompts) == [
        SharedRun(("a", "b", "c", "d"), 0, 2),  # [1, 2]
        SharedRun(("a", "b", "d"), 2, 4),  # [3, 4]
        SharedRun(("a", "d"), 4, 5),  # [5]; each prompt's last token stays its own
    ]
    assert shared_runs({"x": (0, [1, 2, 3]), "y": (0, [1, 2, 3])}) == [SharedRun(("x", "y"), 0, 2)]


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


@pytest.fixture(scope="module")
def batched(starter_path: Path) -> Iterator[ChatEngine]:
    """The starter model answering up to four questions at once."""
    engine = ChatEngine(starter_path, context_length=512, slots=4)
    engine.load()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def alone(references: dict[str, Reference]) -> dict[str, Reference]:
    """The questions' greedy answers asked alone (tests/conftest.py)."""
    return references


def in_threads(responses: list[Response]) -> list[str]:
    """Iterate each response on a thread of its own, as the API's slot threads do."""
    texts = [""] * len(responses)

    def read(i: int) -> None:
        texts[i] = responses[i].text()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(responses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "an answer never ended"
    return texts


def test_answers_decoded_together_are_the_answers_alone(
    batched: ChatEngine, alone: dict[str, Reference]
) -> None:
    check_together_equals_alone(batched, alone)


def test_with_one_pool_of_cells_as_on_a_gpu_answers_together_are_the_answers_alone(
    starter_path: Path, alone: dict[str, Reference], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With layers on a GPU the decoder keeps one pool of cells and flash attention, and
    evaluates a common prompt start once as tokens of several sequences: the same checks."""
    choose = decoder_module.cells_and_attention
    monkeypatch.setattr(
        decoder_module, "cells_and_attention", lambda params, on_cpu: choose(params, False)
    )
    engine = ChatEngine(starter_path, context_length=512, slots=4)
    engine.load()
    try:
        assert not engine_scheduler(engine).separate
        check_together_equals_alone(engine, alone)
    finally:
        engine.close()


def engine_scheduler(engine: ChatEngine) -> Scheduler:
    assert engine._decoder is not None
    return engine._decoder._scheduler


def check_together_equals_alone(batched: ChatEngine, alone: dict[str, Reference]) -> None:
    batched.forget_cache()
    responses = [batched.stream(ask(q), greedy(32)) for q in QUESTIONS]
    texts = in_threads(responses)
    for question, text, response in zip(QUESTIONS, texts, responses, strict=True):
        alone[question].assert_matches(text)
        stats = response.stats
        assert stats is not None and stats.finish_reason in ("stop", "length")
        assert stats.prompt_tokens == len(
            batched.fit(AnswerRequest(ask(question), greedy(32))).tokens  # type: ignore[arg-type]
        )
        assert 0 < stats.generated_tokens <= 32
    # They shared the system prompt: far fewer prompt tokens were evaluated than asked.
    stats = [r.stats for r in responses]
    evaluated = sum(s.evaluated_prompt_tokens for s in stats if s)
    assert evaluated < sum(s.prompt_tokens for s in stats if s) * 0.7


def test_each_answer_keeps_its_own_limits_and_stop_strings(
    batched: ChatEngine, alone: dict[str, Reference]
) -> None:
    months = alone[QUESTIONS[2]]
    assert "," in months.safe_prefix  # the stop string comes within the sure part
    responses = [
        batched.stream(ask(QUESTIONS[2]), greedy(32), stop=(",",)),
        batched.stream(ask(QUESTIONS[2]), greedy(3)),
        batched.stream(ask(COUNT), greedy(200)),
        batched.stream(ask(QUESTIONS[2]), greedy(9)),
    ]
    texts = in_threads(responses)
    stats = [r.stats for r in responses]
    assert all(s is not None for s in stats)
    assert texts[0] == months.safe_prefix.split(",")[0]
    assert stats[0].finish_reason == "stop"  # type: ignore[union-attr]
    assert (stats[1].generated_tokens, stats[1].finish_reason) == (3, "length")  # type: ignore[union-attr]
    assert stats[2].finish_reason == "stop" and stats[2].generated_tokens < 200  # type: ignore[union-attr]
    alone[COUNT].assert_matches(texts[2])
    assert (stats[3].generated_tokens, stats[3].finish_reason) == (9, "length")  # type: ignore[union-attr]
    assert months.safe_prefix.startswith(texts[1]) and months.safe_prefix.startswith(texts[3])


def test_cancelling_one_answer_leaves_the_others_going(
    batched: ChatEngine, alone: dict[str, Reference]
) -> None:
    cancel = CancelToken()
    doomed = batched.stream(ask(STORY), greedy(200), cancel)
    others = [batched.stream(ask(q), greedy(32)) for q in QUESTIONS[1:3]]
    pieces = iter(doomed)
    next(pieces), next(pieces)
    threading.Thread(target=cancel.cancel).start()  # Stop, from another thread
    after = list(pieces)
    texts = in_threads(others)
    assert doomed.stats is not None and doomed.stats.finish_reason == "cancelled"
    assert len(after) <= 1 and doomed.stats.generated_tokens < 20
    for question, text in zip(QUESTIONS[1:3], texts, strict=True):
        alone[question].assert_matches(text)


def test_a_greedy_answer_beside_sampled_ones_is_its_answer_alone(
    batched: ChatEngine, alone: dict[str, Reference]
) -> None:
    story = ask("Tell me a short story about a robot.")
    responses = [
        batched.stream(story, GenerationSettings(temperature=1.5, max_tokens=20, seed=s))
        for s in (1, 2, 3)
    ]
    responses.append(batched.stream(ask(COUNT), greedy(32)))
    texts = in_threads(responses)
    alone[COUNT].assert_matches(texts[3])
    assert len(set(texts[:3])) > 1  # each drew with its own seed


def test_the_prompt_cache_is_reused_across_slots(batched: ChatEngine) -> None:
    batched.forget_cache()
    first = batched.stream(ask(QUESTIONS[1]), greedy(8))
    first.text()
    again = batched.stream(ask(QUESTIONS[1]), greedy(8))
    again.text()
    other = batched.stream(ask(QUESTIONS[2]), greedy(8))
    other.text()
    assert first.stats and again.stats and other.stats
    assert first.stats.evaluated_prompt_tokens == first.stats.prompt_tokens
    assert again.stats.evaluated_prompt_tokens == 1  # all but the token whose logits it needs
    # Another question: the system prompt and the turn's opening come from the cache.
    assert other.stats.evaluated_prompt_tokens < other.stats.prompt_tokens - 20


def test_a_prompt_takes_its_start_from_a_slot_still_answering(
    batched: ChatEngine, alone: dict[str, Reference]
) -> None:
    """The system prompt comes from the cells of an answer in progress (on the CPU a copy of
    that sequence's own cells), and the answer is the one asked alone."""
    batched.forget_cache()
    story = batched.stream(ask(STORY), greedy(64))
    pieces = iter(story)
    next(pieces)  # the story is being answered: its slot is busy
    other = batched.stream(ask(QUESTIONS[1]), greedy(32))
    alone[QUESTIONS[1]].assert_matches(other.text())
    story.close()
    assert other.stats is not None
    assert other.stats.evaluated_prompt_tokens < other.stats.prompt_tokens - 20


def test_the_engine_answers_from_any_thread_and_closing_ends_what_runs(
    starter_path: Path,
) -> None:
    engine = ChatEngine(starter_path, context_length=256, slots=2)
    engine.load()
    responses = [engine.stream(ask(STORY), greedy(200)) for _ in range(2)]
    started = threading.Barrier(3)
    ended: list[str] = []

    def read(response: Response) -> None:
        pieces = iter(response)
        next(pieces)
        started.wait(TIMEOUT)
        list(pieces)
        ended.append(response.finish_reason)

    threads = [threading.Thread(target=read, args=(r,)) for r in responses]
    for thread in threads:
        thread.start()
    started.wait(TIMEOUT)
    engine.close()  # from this thread, while two others read
    for thread in threads:
        thread.join(TIMEOUT)
    assert ended == ["cancelled", "cancelled"]
    with pytest.raises(GenerationError, match="No model is loaded"):
        engine.stream(ask(COUNT), greedy())


# -- the decoder itself -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def decoder(starter_path: Path, batched: ChatEngine) -> Iterator[tuple[BatchDecoder, list[int]]]:
    """A decoder of three 256-token slots, and a prompt for it (COUNT, as the engine renders
    it)."""
    model = GgufModel.load(starter_path)
    batch_decoder = BatchDecoder(model, context=256, slots=3, threads=1)
    yield batch_decoder, batched.fit(AnswerRequest(ask(COUNT), greedy())).tokens  # type: ignore[arg-type]
    batch_decoder.close()
    model.close()


GREEDY = SamplerSettings(temperature=0.0)


def test_a_prompt_that_overflows_the_context_fails_alone(
    decoder: tuple[BatchDecoder, list[int]], alone: dict[str, Reference]
) -> None:
    batch_decoder, prompt = decoder
    too_long = prompt * 40  # far beyond 256 tokens
    streams = batch_decoder.submit_all(
        [
            DecodeJob(prompt, GREEDY, 32),
            DecodeJob(too_long, GREEDY, 32),
            DecodeJob(prompt, GREEDY, 32),
        ]
    )
    with pytest.raises(PromptTooLongError, match="context holds 256 tokens"):
        streams[1].text()
    alone[COUNT].assert_matches(streams[0].text())
    alone[COUNT].assert_matches(streams[2].text())


def test_an_unread_answer_holds_up_no_other(
    decoder: tuple[BatchDecoder, list[int]], alone: dict[str, Reference]
) -> None:
    batch_decoder, prompt = decoder
    unread = batch_decoder.submit(DecodeJob(prompt, GREEDY, 32))  # nobody reads it for now
    read = batch_decoder.submit(DecodeJob(prompt, GREEDY, 32))
    texts: list[str] = []
    reader = threading.Thread(target=lambda: texts.append(read.text()))
    reader.start()
    reader.join(TIMEOUT)
    assert texts, "an answer waited for another one's reader"
    alone[COUNT].assert_matches(texts[0])
    alone[COUNT].assert_matches(unread.text())  # all of it was kept for its reader
    assert unread.result is not None and unread.result.finish_reason == "stop"


def test_each_sequence_draws_with_its_own_seed(
    decoder: tuple[BatchDecoder, list[int]], batched: ChatEngine
) -> None:
    batch_decoder, _ = decoder
    story = ask("Tell me a short story about a robot.")
    prompt = batched.fit(AnswerRequest(story, greedy())).tokens  # type: ignore[arg-type]

    def warm(seed: int) -> DecodeJob:
        return DecodeJob(prompt, SamplerSettings(temperature=1.5, seed=seed), 24)

    # Four sequences, three slots: the last waits for one to end.
    streams = batch_decoder.submit_all([warm(7), warm(7), warm(8), warm(9)])
    texts = [stream.text() for stream in streams]
    assert texts[0] == texts[1]  # the same seed, decoded side by side: the same draw
    assert texts[2] != texts[0] or texts[3] != texts[0]
    assert all(stream.result and stream.result.generated_tokens > 0 for stream in streams)


def test_sequences_join_and_leave_between_steps(
    decoder: tuple[BatchDecoder, list[int]], alone: dict[str, Reference]
) -> None:
    batch_decoder, prompt = decoder
    long = batch_decoder.submit(DecodeJob(prompt, GREEDY, 32, cancel=CancelToken()))
    pieces = iter(long)
    first = [next(pieces) for _ in range(3)]
    short = batch_decoder.submit(DecodeJob(prompt, GREEDY, 2))  # joins a running batch
    short_text = short.text()
    long_text = "".join(first) + "".join(pieces)
    assert short.result is not None and long.result is not None
    assert short.result.generated_tokens == 2 and short.result.finish_reason == "length"
    assert alone[COUNT].text.startswith(short_text)
    alone[COUNT].assert_matches(long_text)
    assert short.result.submitted > long.result.first_token_at  # it came in later…
    assert short.result.ended < long.result.ended  # …and left first


def test_on_the_cpu_each_sequence_has_cells_of_its_own_and_plain_attention() -> None:
    """What makes decoding on the CPU fast (decoder.cells_and_attention: measured there)."""
    params = llama_cpp.llama_context_default_params()
    assert cells_and_attention(params, on_cpu=True)
    assert not params.kv_unified
    assert params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    assert not cells_and_attention(params, on_cpu=False)  # with a GPU: llama.cpp's defaults
    assert params.kv_unified
    assert params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO


def test_on_the_cpu_answers_decode_in_one_pass_in_the_order_of_their_slots(
    starter_path: Path, batched: ChatEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With separate cells llama.cpp evaluates at once only sequences whose ids follow one
    another in the batch: a newcomer takes the lowest free slot (its cache copied from the slot
    that suits it best), and each step lists the answering sequences in the order of their
    slots."""
    model = GgufModel.load(starter_path)
    four = BatchDecoder(model, context=256, slots=4, threads=1)
    handle = four._scheduler.ctx
    steps: list[list[int]] = []
    decode = llama_cpp.llama_decode

    def spy(ctx: object, batch: llama_cpp.llama_batch) -> int:
        if ctx is handle:
            steps.append([batch.seq_id[i][0] for i in range(batch.n_tokens)])
        return decode(ctx, batch)

    monkeypatch.setattr(llama_cpp, "llama_decode", spy)
    story = batched.fit(AnswerRequest(ask(STORY), greedy())).tokens
    count = batched.fit(AnswerRequest(ask(COUNT), greedy())).tokens
    try:
        cancels = [CancelToken() for _ in range(4)]
        prompts = [story, story, story, count]  # the last slot's cache suits the newcomer best
        jobs = [DecodeJob(p, GREEDY, 200, cancel=c) for p, c in zip(prompts, cancels, strict=True)]
        streams = four.submit_all(jobs)  # type: ignore[arg-type]
        for stream in streams:
            next(iter(stream))  # all four are answering, in slots 0 to 3
        for gone in (1, 3):
            cancels[gone].cancel()
            streams[gone].text()
        steps.clear()
        newcomer = four.submit(DecodeJob(count, GREEDY, 8))  # type: ignore[arg-type]
        newcomer.text()
        answering = [ids for ids in steps if len(ids) == 3]
        assert answering, steps
        assert all(ids == [0, 1, 2] for ids in answering), answering
    finally:
        four.close()
        model.close()


LONG_SYSTEM = " ".join(
    f"Rule {i}: answer plainly, in the user's language, and keep to the question asked."
    for i in range(1, 21)
)  # about 300 tokens that two prompts share


def test_a_prompt_sharing_a_cancelled_answers_start_is_answered_alone(
    starter_path: Path, batched: ChatEngine
) -> None:
    """On the CPU each sequence has cells of its own: a prompt entering with another that
    starts the same way waits for that one to evaluate the common start and copies it. If that
    one is cancelled first, the waiting one evaluates its prompt itself and gets its answer."""

    def messages(question: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": LONG_SYSTEM}, *ask(question)]

    reference = greedy_reference(batched, messages(QUESTIONS[2]), greedy(16))
    leader = batched.fit(AnswerRequest(messages(QUESTIONS[1]), greedy())).tokens
    follower = batched.fit(AnswerRequest(messages(QUESTIONS[2]), greedy())).tokens
    shared = common_prefix(leader, follower)  # type: ignore[arg-type]
    assert shared > 250
    model = GgufModel.load(starter_path)
    # 2 tokens a step: the leader takes well over a second to reach the end of the common start.
    slow = BatchDecoder(model, context=512, slots=2, threads=1, batch_tokens=1)
    try:
        cancel = CancelToken()
        streams = slow.submit_all(
            [
                DecodeJob(leader, GREEDY, 16, cancel=cancel),  # type: ignore[arg-type]
                DecodeJob(follower, GREEDY, 16),  # type: ignore[arg-type]
            ]
        )
        threading.Timer(0.2, cancel.cancel).start()
        texts = in_threads(streams)
        result = streams[1].result
        assert result is not None and result.finish_reason in ("stop", "length")
        assert result.cached_tokens < shared  # it did not wait for the cancelled one
        reference.assert_matches(texts[1])
        assert streams[0].result is not None
        assert streams[0].result.finish_reason == "cancelled"
    finally:
        slow.close()
        model.close()


def test_a_closed_decoder_ends_its_sequences_and_takes_no_more(starter_path: Path) -> None:
    model = GgufModel.load(starter_path)
    batch_decoder = BatchDecoder(model, context=256, slots=2, threads=1)
    prompt = model.tokenize("1, 2, 3, 4,")
    stream = batch_decoder.submit(DecodeJob(prompt, GREEDY, 200))
    next(stream)
    batch_decoder.close()
    stream.text()
    assert stream.result is not None and stream.result.finish_reason == "cancelled"
    with pytest.raises(GenerationError):
        batch_decoder.submit(DecodeJob(prompt, GREEDY, 4))
    model.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
def test_a_background_decoder_yields_the_cpu(starter_path: Path) -> None:
    """The window's local API decodes in the background, so the window's own answers keep
    their share of a busy CPU."""
    model = GgufModel.load(starter_path)
    found = {}
    for background in (False, True):
        name = f"decoder-{background}"
        batch_decoder = BatchDecoder(model, context=64, threads=1, name=name, background=background)
        batch_decoder.submit(DecodeJob(model.tokenize("1, 2,"), GREEDY, 2)).text()
        thread = next(t for t in threading.enumerate() if t.name == name)
        assert thread.native_id is not None
        found[background] = os.getpriority(os.PRIO_PROCESS, thread.native_id)
        batch_decoder.close()
    model.close()
    assert found[True] > found[False]
