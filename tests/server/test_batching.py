"""The local API answering several clients at once, through the official ``openai`` client on
loopback: each client gets its own answer — the one the chat engine gives alone, up to the
first near-tie — with its own limits, stop strings and response format, and a client that
leaves, or asks too much, changes nothing for the others."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from desktop.server.runner import ApiServer
from tests.conftest import COUNT, QUESTIONS
from tests.scoring import Reference
from tests.server.conftest import client_for

TIMEOUT = 300
ENDLESS = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


@dataclass
class Streamed:
    text: str = ""
    finish: str | None = None
    completion_tokens: int = 0
    first_text_at: float = 0.0
    ended_at: float = 0.0
    error: BaseException | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def stream_chat(server: ApiServer, question: str, **options: Any) -> Streamed:
    """One client streaming one answer, as an application does."""
    seen = Streamed()
    try:
        with client_for(server, timeout=TIMEOUT) as api:
            chunks = api.chat.completions.create(
                model="",
                messages=ask(question),  # type: ignore[arg-type]
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
                **options,
            )
            for chunk in chunks:
                if chunk.usage is not None:
                    seen.completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta.content:
                        seen.text += choice.delta.content
                        seen.first_text_at = seen.first_text_at or time.monotonic()
                    seen.finish = choice.finish_reason or seen.finish
    except openai.APIError as exc:
        seen.error = exc
    seen.ended_at = time.monotonic()
    return seen


def at_once(*clients: Callable[[], Streamed]) -> list[Streamed]:
    results: list[Streamed] = [Streamed() for _ in clients]

    def run(i: int) -> None:
        results[i] = clients[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "a client never got its answer"
    return results


def test_eight_clients_at_once_each_get_their_own_answer(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    server = serve(parallel=8)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(8)]
    results = at_once(*[lambda q=q: stream_chat(server, q, max_tokens=32) for q in questions])
    for question, result in zip(questions, results, strict=True):
        assert result.error is None, result.error
        references[question].assert_matches(result.text)
        assert result.finish in ("stop", "length") and 0 < result.completion_tokens <= 32
    # Answered together, not one after another: every client had text before any was done.
    assert max(r.first_text_at for r in results) < min(r.ended_at for r in results)
    assert server.worker is not None and server.worker.wait_idle(10)
    logged = server.worker.requests.entries()[-8:]
    assert [e.outcome for e in logged].count("cancelled") == 0
    assert sorted(e.completion_tokens for e in logged) == sorted(
        r.completion_tokens for r in results
    )


def test_cancelling_one_stream_leaves_the_others_going(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    server = serve(parallel=4)
    months, days = QUESTIONS[2], QUESTIONS[1]

    def leaver() -> Streamed:
        with client_for(server) as api:
            stream = api.completions.create(
                model="", prompt=ENDLESS, max_tokens=2000, temperature=0, stream=True
            )
            pieces = iter(stream)
            text = "".join(next(pieces).choices[0].text for _ in range(3))
            stream.close()  # the client goes away mid-answer
            return Streamed(text=text, ended_at=time.monotonic())

    results = at_once(
        leaver,
        lambda: stream_chat(server, months, max_tokens=32),
        lambda: stream_chat(server, days, max_tokens=32),
    )
    references[months].assert_matches(results[1].text)
    references[days].assert_matches(results[2].text)
    for stayed in results[1:]:
        assert stayed.completion_tokens == 32 or stayed.finish == "stop"
    assert server.worker is not None and server.worker.wait_idle(10)
    entries = server.worker.requests.entries()
    left = next(e for e in entries if e.endpoint == "/v1/completions")
    assert left.outcome == "cancelled" and 0 < left.completion_tokens < 500
    # The others ended by themselves, not cut short with the one that left.
    stayed = [e.outcome for e in entries if e.endpoint == "/v1/chat/completions"]
    assert sorted(stayed) in (["length", "length"], ["length", "stop"], ["stop", "stop"])


def test_a_client_that_leaves_frees_its_slot_at_once(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    """Two slots: one client counts on for 150 tokens, another leaves after three; a newcomer
    gets the freed slot at once and has its whole answer while the first is still counting."""
    server = serve(parallel=2)
    counting = threading.Event()
    long = Streamed()

    def long_client() -> None:
        with client_for(server, timeout=TIMEOUT) as api:
            stream = api.completions.create(
                model="", prompt=ENDLESS, max_tokens=150, temperature=0, stream=True
            )
            for chunk in stream:
                for choice in chunk.choices:
                    long.text += choice.text
                    long.finish = choice.finish_reason or long.finish
                counting.set()
        long.ended_at = time.monotonic()

    thread = threading.Thread(target=long_client)
    thread.start()
    assert counting.wait(TIMEOUT)
    with client_for(server) as api:
        stream = api.completions.create(
            model="", prompt=ENDLESS, max_tokens=2000, temperature=0, stream=True
        )
        pieces = iter(stream)
        for _ in range(3):
            next(pieces)
        stream.close()  # the second slot's client goes away mid-answer
    newcomer = stream_chat(server, COUNT, max_tokens=32)
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert newcomer.error is None, newcomer.error
    references[COUNT].assert_matches(newcomer.text)
    assert newcomer.ended_at < long.ended_at, "the newcomer waited for the long answer's slot"
    assert long.finish == "length"  # it went on counting to its limit meanwhile


def test_each_client_keeps_its_own_stop_strings_limits_and_format(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    server = serve(parallel=4)
    months = references[QUESTIONS[2]]
    assert "," in months.safe_prefix  # the stop string comes within the sure part
    results = at_once(
        lambda: stream_chat(server, QUESTIONS[2], stop=[","], max_tokens=32),
        lambda: stream_chat(server, QUESTIONS[2], max_tokens=3),
        lambda: stream_chat(server, COUNT, max_tokens=200),
        lambda: stream_chat(
            server,
            "Describe a cat as JSON with a name and an age.",
            response_format={"type": "json_object"},
            max_tokens=300,
        ),
    )
    assert all(r.error is None for r in results), [r.error for r in results]
    assert results[0].text == months.safe_prefix.split(",")[0]
    assert results[0].finish == "stop"
    assert (results[1].completion_tokens, results[1].finish) == (3, "length")
    assert months.safe_prefix.startswith(results[1].text)
    references[COUNT].assert_matches(results[2].text)
    assert results[2].finish == "stop" and results[2].completion_tokens < 200
    assert results[3].finish == "stop"
    assert isinstance(json.loads(results[3].text), dict)


def test_a_prompt_that_overflows_the_context_fails_alone(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    server = serve(parallel=4)
    results = at_once(
        lambda: stream_chat(server, COUNT, max_tokens=32),
        lambda: stream_chat(server, "word " * 5000, max_tokens=32),
        lambda: stream_chat(server, QUESTIONS[3], max_tokens=32),
    )
    assert isinstance(results[1].error, openai.BadRequestError)
    assert results[1].error.code == "context_length_exceeded"
    references[COUNT].assert_matches(results[0].text)
    references[QUESTIONS[3]].assert_matches(results[2].text)


def test_one_slot_answers_one_after_another(
    serve: Callable[..., ApiServer], references: dict[str, Reference]
) -> None:
    """``--parallel 1`` is the old behaviour: the second client waits for the first."""
    server = serve(parallel=1)
    results = at_once(*[lambda: stream_chat(server, COUNT, max_tokens=32) for _ in range(2)])
    first, second = sorted(results, key=lambda r: r.ended_at)
    assert second.first_text_at > first.ended_at - 0.05
    for result in results:
        references[COUNT].assert_matches(result.text)
