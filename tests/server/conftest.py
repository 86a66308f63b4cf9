"""A real local API server on 127.0.0.1 (a free port) with the starter model, and the official
``openai`` client pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from desktop.core.models.library import ModelLibrary
from desktop.server.config import ServerConfig
from desktop.server.runner import ApiServer
from tests.conftest import greedy

CONTEXT = 2048  # as the session's `engine` fixture, so answers compare token for token


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """``serve(**config)``: a started server answering greedily by default (its default
    generation settings are the tests' greedy ones); stopped after the test."""
    started: list[ApiServer] = []

    def start(**options: object) -> ApiServer:
        library = ModelLibrary(tmp_path / f"library-{len(started)}")
        config = ServerConfig(port=0, context_length=CONTEXT, **options)  # type: ignore[arg-type]
        server = ApiServer(config, library, lambda model: greedy(64))
        server.start()
        started.append(server)
        server.preload()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve: Callable[..., ApiServer]) -> ApiServer:
    return serve()


def client_for(server: ApiServer, key: str = "not-needed", **options: object) -> openai.OpenAI:
    """The official client; no retries, so a refusal is seen as it is."""
    return openai.OpenAI(base_url=server.url, api_key=key, max_retries=0, **options)  # type: ignore[arg-type]


@pytest.fixture
def client(server: ApiServer) -> Iterator[openai.OpenAI]:
    with client_for(server) as api:
        yield api
