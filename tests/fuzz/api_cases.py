"""Worker: a local API server on 127.0.0.1 with the starter model, and seeded mutations of real
requests sent to it (bodies, then headers and methods). An answer (2xx) or a refusal (4xx with
OpenAI's error shape and a message) is clean; a 500, a dropped connection or no answer is not.
Run by tests/fuzz/test_api_fuzz.py (``python -m tests.fuzz.api_cases WORK SEED COUNT``)."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.fuzz.harness import run_cases
from tests.fuzz.json_mutator import mutate_value, serialize

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/chat/completions", {"model": "", "messages": QUESTION, "max_tokens": 4}),
    (
        "/chat/completions",
        {
            "messages": [{"role": "system", "content": "Be brief."}, *QUESTION],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.5,
            "stop": ["\n"],
        },
    ),
    (
        "/chat/completions",
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "response_format": {"type": "json_object"},
            "seed": 3,
        },
    ),
    ("/completions", {"prompt": "1, 2, 3,", "max_tokens": 4, "stop": "9"}),
    ("/completions", {"prompt": ["Once upon a time"], "stream": True}),
    ("/embeddings", {"input": ["alpacas", "llamas"], "encoding_format": "base64"}),
    ("/embeddings", {"model": "all-MiniLM-L6-v2", "input": "shearing"}),
]
HEADERS = [
    {"Content-Type": "application/json"},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "application/json", "Origin": "https://evil.example"},
    {"Content-Type": "application/json", "Host": "attacker.example:8765"},
]


def _clean(response: Any) -> str:
    """ "ok" or "refused", or raise: an error answer must be OpenAI's shape with a message."""
    if response.status_code < 300:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    event = json.loads(line[6:])
                    if "error" in event:
                        if not event["error"].get("message"):
                            raise AssertionError(f"a stream error without a message: {line}")
                        return "refused"
        else:
            response.read()
        return "ok"
    response.read()
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:300]}")
    if response.status_code in (405, 413, 415):
        return "refused"
    message = response.json()["error"]["message"]
    if not message:
        raise AssertionError(f"{response.status_code} without a message: {response.text[:300]}")
    return "refused"


def cases(work: Path, seed: int, count: int) -> Iterator[tuple[str, Callable[[], str]]]:
    import httpx

    from desktop.core.models.library import ModelLibrary
    from desktop.core.settings import GenerationSettings
    from desktop.server.config import ServerConfig
    from desktop.server.runner import ApiServer

    config = ServerConfig(port=0, context_length=512, max_tokens_limit=8, threads=1)
    server = ApiServer(
        config, ModelLibrary(work / "library"), lambda m: GenerationSettings(max_tokens=4)
    )
    server.start()
    server.preload()
    client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(60.0))
    rng = random.Random(seed)
    for number in range(count):
        route, body = rng.choice(REQUESTS)
        what = []
        for _ in range(rng.choice([1, 1, 2])):
            body, change = mutate_value(body, rng)
            what.append(change)
        data, damage = serialize(body, rng)
        headers = HEADERS[0] if rng.random() < 0.8 else rng.choice(HEADERS)
        method = "POST" if rng.random() < 0.95 else rng.choice(["GET", "PUT", "DELETE"])

        def case(route: str = route, data: bytes = data, headers=headers, method=method) -> str:  # type: ignore[no-untyped-def]
            try:
                with client.stream(method, route, content=data, headers=headers) as response:
                    return _clean(response)
            except httpx.HTTPError as exc:
                raise AssertionError(f"no answer: {type(exc).__name__}: {exc}") from exc

        label = f"#{number} {method} {route} {'; '.join(what)} {damage}"
        yield f"{label} {headers.get('Content-Type')}".strip(), case

    def still_answers() -> str:
        done = client.post("/completions", json={"prompt": "1, 2,", "max_tokens": 2})
        client.close()
        server.stop()
        if done.status_code != 200:
            raise AssertionError(f"after the run: {done.status_code} {done.text[:200]}")
        return "ok"

    yield "the server still answers", still_answers


if __name__ == "__main__":
    run_cases(cases(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
