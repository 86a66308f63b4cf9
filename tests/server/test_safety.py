"""The local API's safety: keys, request limits, the queue, clients that leave, and requests a
web page could forge. Through the official ``openai`` client where a client would meet it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import httpx
import openai
import pytest

from conversion.errors import ServerError
from desktop.core.documents.embedder import Embedder
from desktop.core.models.library import ModelLibrary
from desktop.server.config import ServerConfig
from desktop.server.protocol import MAX_EMBEDDING_INPUTS
from desktop.server.runner import ApiServer
from tests.server.conftest import client_for

QUESTION = [{"role": "user", "content": "Hello!"}]
# A text completion that goes on and on (counting), greedily: a long generation to interrupt.
ENDLESS = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
LONG = 2000


def endless_stream(api: openai.OpenAI):  # type: ignore[no-untyped-def]
    return api.completions.create(
        model="", prompt=ENDLESS, max_tokens=LONG, temperature=0, stream=True
    )


def test_a_client_that_disconnects_mid_stream_stops_generation(server: ApiServer) -> None:
    with client_for(server) as api:
        stream = endless_stream(api)
        pieces = [next(iter(stream)).choices[0].text for _ in range(5)]
        assert any(pieces)
        stream.close()  # the client goes away
    assert server.worker.wait_idle(5.0), "the model is still generating for nobody"  # type: ignore[union-attr]
    logged = server.worker.requests.last()  # type: ignore[union-attr]
    assert logged is not None and logged.outcome == "cancelled"
    assert 0 < logged.completion_tokens < LONG // 4


def test_a_client_that_gives_up_waiting_stops_generation(server: ApiServer) -> None:
    with client_for(server, timeout=1.0) as api, pytest.raises(openai.APITimeoutError):
        api.completions.create(model="", prompt=ENDLESS, max_tokens=LONG, temperature=0)
    assert server.worker.wait_idle(5.0)  # type: ignore[union-attr]
    logged = server.worker.requests.last()  # type: ignore[union-attr]
    assert logged is not None and logged.outcome == "cancelled"
    assert 0 < logged.completion_tokens < LONG // 4


def test_a_client_that_leaves_stops_its_embeddings(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 30 item 10: thousands of texts to embed are not embedded for nobody."""
    # as many as one request may hold (MAX_EMBEDDING_INPUTS, OpenAI's limit)
    texts = [f"Passage {i} about alpacas and their wool." for i in range(MAX_EMBEDDING_INPUTS)]
    with client_for(server) as api:  # the embedding model is ready before the clock starts
        assert api.embeddings.create(model="all-MiniLM-L6-v2", input=texts[:2]).data
    embedded: list[str] = []
    left = threading.Event()
    real = Embedder._vector

    def vector(self: Embedder, llama, text: str) -> list[float]:  # type: ignore[no-untyped-def]
        embedded.append(text)
        left.wait(30)  # the first texts are held until the client has gone
        return real(self, llama, text)

    monkeypatch.setattr(Embedder, "_vector", vector)
    with client_for(server, timeout=1.0) as api, pytest.raises(openai.APITimeoutError):
        api.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    left.set()
    assert server.worker.wait_idle(120)  # type: ignore[union-attr]
    logged = server.worker.requests.last()  # type: ignore[union-attr]
    assert logged is not None and logged.outcome == "cancelled"
    assert len(embedded) < len(texts) // 10, f"{len(embedded)} texts embedded for nobody"


def test_a_full_queue_answers_429_and_the_queued_request_is_still_served(
    serve: Callable[..., ApiServer],
) -> None:
    server = serve(queue_size=1, parallel=2)
    api = client_for(server)
    running = [endless_stream(api) for _ in range(2)]
    for stream in running:
        next(iter(stream))  # both slots are answering
    assert server.worker.answering == 2  # type: ignore[union-attr]
    waiting: list[str] = []
    thread = threading.Thread(
        target=lambda: waiting.append(
            api.chat.completions.create(model="", messages=QUESTION, max_tokens=4)  # type: ignore[arg-type]
            .choices[0]
            .finish_reason
        )
    )
    thread.start()
    deadline = time.monotonic() + 10
    while server.worker.waiting < 1 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    with pytest.raises(openai.RateLimitError) as error:
        api.chat.completions.create(model="", messages=QUESTION)  # type: ignore[arg-type]
    assert error.value.code == "queue_full"
    assert error.value.response.headers["retry-after"]
    running[0].close()  # its slot goes to the request that waited
    thread.join(30)
    assert waiting and waiting[0] in ("stop", "length")
    running[1].close()
    api.close()


def test_a_wrong_or_missing_key_is_refused(serve: Callable[..., ApiServer]) -> None:
    server = serve(api_key="hk-the-right-key")
    with (
        client_for(server, key="hk-a-wrong-key") as api,
        pytest.raises(openai.AuthenticationError) as error,
    ):
        api.models.list()
    assert error.value.code == "invalid_api_key"
    refused = httpx.get(f"{server.url}/models")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    with client_for(server, key="hk-the-right-key") as api:
        assert api.chat.completions.create(model="", messages=QUESTION, max_tokens=4).choices  # type: ignore[arg-type]


def test_another_address_than_loopback_needs_a_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServerError):
        ApiServer(ServerConfig(host="0.0.0.0", port=0), ModelLibrary(tmp_path))


def test_a_taken_port_is_one_clear_error(server: ApiServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = ApiServer(ServerConfig(port=server.port), ModelLibrary(tmp_path))
    with pytest.raises(ServerError, match="already in use"):
        other.start()


def test_an_oversized_request_is_refused(serve: Callable[..., ApiServer]) -> None:
    server = serve(max_body_bytes=64 * 1024)
    huge = [{"role": "user", "content": "word " * 40_000}]
    with client_for(server) as api:
        with pytest.raises(openai.APIStatusError) as error:
            api.chat.completions.create(model="", messages=huge)  # type: ignore[arg-type]
        assert error.value.status_code == 413
        assert error.value.code == "request_too_large"
        assert api.chat.completions.create(model="", messages=QUESTION, max_tokens=4).choices  # type: ignore[arg-type]
    # Without a Content-Length (chunked), the body is counted as it arrives.
    chunked = httpx.post(
        f"{server.url}/chat/completions",
        content=iter([b'{"messages": [{"role": "user", "content": "'] + [b"word " * 1000] * 20),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413


def test_max_tokens_above_the_limit_and_unsupported_options_are_refused(
    serve: Callable[..., ApiServer],
) -> None:
    server = serve(max_tokens_limit=100)
    with client_for(server) as api:
        with pytest.raises(openai.BadRequestError) as error:
            api.chat.completions.create(model="", messages=QUESTION, max_tokens=101)  # type: ignore[arg-type]
        assert error.value.code == "max_tokens_too_large"
        with pytest.raises(openai.BadRequestError) as error:
            api.chat.completions.create(model="", messages=QUESTION, n=2)  # type: ignore[arg-type]
        assert error.value.param == "n"
        with pytest.raises(openai.BadRequestError):
            api.chat.completions.create(model="", messages=[], max_tokens=4)


def test_requests_a_web_page_could_forge_are_refused(server: ApiServer) -> None:
    """DNS rebinding (a foreign Host on loopback) and a no-preflight POST (not JSON)."""
    rebound = httpx.get(f"{server.url}/models", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "host_not_allowed"
    form = httpx.post(
        f"{server.url}/chat/completions",
        content=b'{"messages": [{"role": "user", "content": "hi"}]}',
        headers={"Content-Type": "text/plain"},
    )
    assert form.status_code == 415
    assert (
        "access-control-allow-origin"
        not in httpx.get(f"{server.url}/models", headers={"Origin": "https://example.com"}).headers
    )


def test_cors_only_for_the_allowed_origin(serve: Callable[..., ApiServer]) -> None:
    server = serve(cors_origins=["http://localhost:3000"])
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = httpx.options(
        f"{server.url}/chat/completions", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    other = httpx.options(
        f"{server.url}/chat/completions", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers


def test_stopping_the_server_ends_an_answer_in_progress(server: ApiServer) -> None:
    api = client_for(server)
    stream = endless_stream(api)
    next(iter(stream))
    worker = server.worker
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    assert worker is not None
    logged = worker.requests.last()
    assert logged is not None and logged.outcome == "cancelled"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{worker.config.port or 1}/v1/models", timeout=2)
    api.close()


def _post(server: ApiServer, path: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}{path}",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )


# (route, body, the field the 400 names) — each answered 500 or dropped the connection before
HOSTILE_BODIES = {
    "lone surrogate in a message": (
        "/chat/completions",
        b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}',
        "messages[0].content",
    ),
    "lone surrogate in the model name": (
        "/chat/completions",
        b'{"model": "\\ud800", "messages": [{"role": "user", "content": "hi"}]}',
        "model",
    ),
    "lone surrogate in a stop sequence": (
        "/chat/completions",
        b'{"stop": ["\\udfff"], "messages": [{"role": "user", "content": "hi"}]}',
        "stop[0]",
    ),
    "lone surrogate in a prompt": ("/completions", b'{"prompt": "x\\udfff"}', "prompt"),
    "lone surrogate in an embedding input": ("/embeddings", b'{"input": ["\\ud800"]}', "input[0]"),
    "empty prompt": ("/completions", b'{"prompt": ""}', "prompt"),
    "empty prompt in a list": ("/completions", b'{"prompt": [""]}', "prompt"),
    "just under 4 MiB of conversation": (
        "/chat/completions",
        b'{"messages": [{"role": "user", "content": "' + b"word " * 838_000 + b'"}]}',
        "messages",
    ),
    "just under 4 MiB of system prompt": (
        "/chat/completions",
        b'{"messages": [{"role": "system", "content": "'
        + b"x " * 2_090_000
        + b'"}, {"role": "user", "content": "hi"}]}',
        "messages",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_BODIES, ids=list(HOSTILE_BODIES))
def test_requests_that_got_a_500_are_a_400_naming_the_field(case: str, server: ApiServer) -> None:
    path, body, field = HOSTILE_BODIES[case]
    assert len(body) < 4 * 1024 * 1024
    answer = _post(server, path, body)
    assert answer.status_code == 400, answer.text[:300]
    error = answer.json()["error"]
    assert error["param"] == field and error["message"], error
    # the server is fine afterwards
    assert _post(server, "/completions", b'{"prompt": "1, 2,", "max_tokens": 2}').status_code == 200


def test_no_failure_is_a_500_without_a_message() -> None:
    from desktop.server.app import api_error

    error = api_error(AssertionError())
    assert error.status == 500 and "AssertionError" in error.message
    assert api_error(ValueError("\ud800")).body()["error"]["message"].encode("utf-8")


def test_an_embeddings_request_of_100000_texts_is_refused_at_once(server: ApiServer) -> None:
    """It kept the one model worker busy for minutes, every other request waiting behind it."""
    body = json.dumps({"input": ["alpacas"] * 100_000}).encode()
    started = time.monotonic()
    answer = _post(server, "/embeddings", body)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "input"
    assert time.monotonic() - started < 10
    ok = _post(server, "/embeddings", json.dumps({"input": ["alpacas"] * 2048}).encode())
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2048
