"""The OpenAI-compatible routes: /v1/models, /v1/chat/completions, /v1/completions and
/v1/embeddings, on FastAPI. Every answer comes from the one :class:`ModelWorker`; every error
leaves in OpenAI's shape."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from conversion.errors import (
    EmbeddingModelMissing,
    HuacayaError,
    ModelNotFoundError,
    NotEnoughMemoryError,
    PromptTooLongError,
)
from desktop.core.models.embedding_model import EMBEDDING_NAME, embedding_checkpoint
from desktop.core.models.library import ModelEntry, ModelLibrary
from desktop.core.settings import GenerationSettings
from desktop.server import events
from desktop.server.config import ServerConfig
from desktop.server.guard import Guard
from desktop.server.protocol import (
    ApiError,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Sampling,
)
from desktop.server.work import Work, chat_work, completion_work, embedding_work, generation_for
from desktop.server.worker import Channel, Job, ModelWorker, QueueFull, Stopped

log = logging.getLogger(__name__)
RETRY_AFTER_S = "2"


def api_error(exc: BaseException) -> ApiError:
    """Any failure as the OpenAI-shaped error a client is told."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QueueFull):
        return ApiError(
            429,
            "The server is busy: every slot is answering and the queue of requests waiting "
            "for one is full. Try again in a moment.",
            type="rate_limit_error",
            code="queue_full",
            headers={"Retry-After": RETRY_AFTER_S},
        )
    if isinstance(exc, Stopped):
        return ApiError(503, "The server is stopping.", type="server_error", code="unavailable")
    if isinstance(exc, HuacayaError):
        text = f"{exc.message} {exc.hint}".strip()
        if isinstance(exc, (ModelNotFoundError, EmbeddingModelMissing)):
            return ApiError(404, text, code="model_not_found", param="model")
        if isinstance(exc, PromptTooLongError):
            return ApiError(400, text, code="context_length_exceeded", param="messages")
        if isinstance(exc, NotEnoughMemoryError):
            return ApiError(503, text, type="server_error", code="insufficient_memory")
        return ApiError(500, text, type="server_error", code="model_error")
    log.error("API request failed unexpectedly", exc_info=exc)
    said = f": {exc}" if str(exc) else ""  # an AssertionError says nothing on its own
    return ApiError(
        500,
        f"Internal error ({type(exc).__name__}{said}). The server's log has the details.",
        type="server_error",
        code="internal_error",
    )


def default_model(library: ModelLibrary, preferred: str) -> ModelEntry:
    """The model for requests naming none: ``preferred`` if installed, else the starter."""
    library.ensure_starter()
    entry = library.default_entry(preferred)
    if entry is None:
        raise ModelNotFoundError("No model is installed.")
    return entry


def _error_response(exc: BaseException) -> JSONResponse:
    error = api_error(exc)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _embedding_model_installed() -> bool:
    try:
        embedding_checkpoint()
    except EmbeddingModelMissing:
        return False
    return True


def create_app(
    config: ServerConfig,
    worker: ModelWorker,
    library: ModelLibrary,
    defaults_for: Callable[[str], GenerationSettings],
) -> FastAPI:
    app = FastAPI(title="Huacaya local API", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, config=config)
    if config.cors_origins:  # added last: outermost, so preflights and refusals get headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Invalid request: {where or 'body'}: {first.get('msg', 'not understood')}."
        return _error_response(ApiError(400, message, param=where or None))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        return _error_response(exc)  # logged there with its traceback

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        return _error_response(ApiError(exc.status_code, str(exc.detail), code=code))

    def resolve(name: str) -> ModelEntry:
        """The library model a request names; no name: the one loaded, else the default."""
        if name:
            return library.get(name)
        if worker.entry is not None:
            return worker.entry
        return default_model(library, config.model)

    def submit(work: Work, request: Request) -> Job:
        client = f"{request.client.host}:{request.client.port}" if request.client else ""
        job = Job(
            work, Channel(asyncio.get_running_loop()), endpoint=request.url.path, client=client
        )
        worker.submit(job)
        return job

    def settings_for(body: Sampling, entry: ModelEntry) -> tuple[GenerationSettings, list[str]]:
        body.refuse_unsupported()
        settings = generation_for(body, defaults_for(entry.id), config.max_tokens_limit)
        return settings, body.stops()

    async def generate(
        request: Request, body: Sampling, entry: ModelEntry, work: Work, chat: bool
    ) -> Response:
        job = submit(work, request)
        try:
            if body.stream:
                first = await events.first_event(job, request)
                if isinstance(first, events.Failed):
                    raise first.error
                stream = events.Stream(
                    job,
                    first,
                    entry.id,
                    "chat.completion.chunk" if chat else "text_completion",
                    _chat_choice if chat else _text_choice,
                    body.include_usage(),
                    lambda exc: api_error(exc).body(),
                )
                return StreamingResponse(stream.body(), media_type="text/event-stream")
            done = await events.outcome(job, request)
        except events.ClientGone:
            return Response(status_code=499)  # nobody reads it
        return JSONResponse(
            {
                "id": events.new_id("chatcmpl" if chat else "cmpl"),
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": entry.id,
                "choices": [_full_choice(done.content, events.finish_reason(done.stats), chat)],
                "usage": events.usage(done.stats),
            }
        )

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        library.ensure_starter()
        data = [_model_card(e.id, e.added_at) for e in library.entries()]
        if _embedding_model_installed():
            data.append(_model_card(EMBEDDING_NAME, ""))
        return {"object": "list", "data": data}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id == EMBEDDING_NAME and _embedding_model_installed():
            return _model_card(EMBEDDING_NAME, "")
        entry = library.get(model_id)
        return _model_card(entry.id, entry.added_at)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, body: ChatRequest) -> Response:
        try:
            entry = resolve(body.model)
            settings, stops = settings_for(body, entry)
            work = chat_work(entry, body.messages, settings, stops, body.json_mode())
            return await generate(request, body, entry, work, chat=True)
        except (ApiError, HuacayaError, QueueFull, Stopped) as exc:
            return _error_response(exc)

    @app.post("/v1/completions")
    async def completions(request: Request, body: CompletionRequest) -> Response:
        try:
            if body.echo or body.suffix:
                raise ApiError(400, "echo and suffix are not supported.", code="unsupported")
            prompt = body.prompt_text()
            if not prompt:
                raise ApiError(
                    400, "prompt is empty: give the text the model should continue.",
                    param="prompt", code="empty_prompt",
                )  # fmt: skip
            entry = resolve(body.model)
            settings, stops = settings_for(body, entry)
            work = completion_work(entry, prompt, settings, stops, body.json_mode())
            return await generate(request, body, entry, work, chat=False)
        except (ApiError, HuacayaError, QueueFull, Stopped) as exc:
            return _error_response(exc)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
        try:
            if body.model not in ("", EMBEDDING_NAME):
                library.get(body.model)  # unknown: 404; a chat model: said below
                raise ApiError(
                    400,
                    f"“{body.model}” is a chat model; embeddings come from {EMBEDDING_NAME}.",
                    param="model",
                    code="model_not_embedding",
                )
            job = submit(embedding_work(body.texts()), request)
            done = await events.outcome(job, request)
        except events.ClientGone:
            return Response(status_code=499)
        except (ApiError, HuacayaError, QueueFull, Stopped) as exc:
            return _error_response(exc)
        vectors, tokens = done.result
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": _encode(v, body.encoding_format),
                    }
                    for i, v in enumerate(vectors)
                ],
                "model": EMBEDDING_NAME,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    return app


def _model_card(model_id: str, added_at: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": _timestamp(added_at),
        "owned_by": "huacaya",
    }


def _timestamp(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return 0


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return vector


def _chat_choice(text: str | None, finish: str | None) -> dict[str, Any]:
    if text is None:
        delta: dict[str, Any] = {"role": "assistant", "content": ""}
    else:
        delta = {"content": text} if text else {}
    return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}


def _text_choice(text: str | None, finish: str | None) -> dict[str, Any]:
    return {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}


def _full_choice(content: str, finish: str, chat: bool) -> dict[str, Any]:
    if chat:
        message = {"role": "assistant", "content": content}
        return {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    return {"index": 0, "text": content, "finish_reason": finish, "logprobs": None}
