"""From the worker's events to HTTP: waiting for them while watching the client, and OpenAI's
response and stream (server-sent events) shapes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request

from desktop.server.worker import Delta, Failed, Finished, Job

T = TypeVar("T")


class ClientGone(Exception):
    """The client closed the connection before its answer was complete."""


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (the body was read: nothing else can arrive)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_client_leaves(job: Job, request: Request, wanted: Awaitable[T]) -> T:
    """``wanted``'s result; if the client leaves first, the job is cancelled and ClientGone
    raised (whether the job still waits in the queue or is being answered)."""
    task = asyncio.ensure_future(wanted)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        job.cancel.cancel()
        raise ClientGone()
    finally:
        for pending in (task, watcher):
            pending.cancel()


async def first_event(job: Job, request: Request) -> Delta | Finished | Failed:
    return await _unless_client_leaves(job, request, job.channel.get())  # type: ignore[union-attr]


async def outcome(job: Job, request: Request) -> Finished:
    """The end of a job (its deltas are not needed); raises what it failed with."""

    async def last() -> Finished:
        while True:
            event = await job.channel.get()  # type: ignore[union-attr]
            if isinstance(event, Failed):
                raise event.error
            if isinstance(event, Finished):
                return event

    return await _unless_client_leaves(job, request, last())


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(stats: dict[str, Any]) -> dict[str, int]:
    prompt = int(stats.get("prompt_tokens", 0))
    completion = int(stats.get("generated_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def finish_reason(stats: dict[str, Any]) -> str:
    return "length" if stats.get("finish_reason") == "length" else "stop"


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


class Stream:
    """One streamed answer in OpenAI's chunk shape; ``chunk(delta_text, finish)`` builds a
    chunk's single choice (chat and text completions differ only there)."""

    def __init__(
        self,
        job: Job,
        first: Delta | Finished | Failed,
        model: str,
        object_name: str,
        choice: Callable[[str | None, str | None], dict[str, Any]],
        include_usage: bool,
        error_body: Callable[[BaseException], dict[str, Any]],
    ) -> None:
        self.job, self.first, self.model = job, first, model
        self.object_name, self.choice = object_name, choice
        self.include_usage, self.error_body = include_usage, error_body
        self.id = new_id("chatcmpl" if "chat" in object_name else "cmpl")
        self.created = int(time.time())

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return sse(
            {
                "id": self.id,
                "object": self.object_name,
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **extra,
            }
        )

    async def body(self) -> AsyncIterator[bytes]:
        """The response body. When the client disconnects, the server cancels this generator
        while it waits for the next event: ``finally`` then stops the generation."""
        try:
            yield self._chunk([self.choice(None, None)])  # the opening chunk (role only)
            event = self.first
            while True:
                if isinstance(event, Delta):
                    yield self._chunk([self.choice(event.text, None)])
                elif isinstance(event, Finished):
                    yield self._chunk([self.choice("", finish_reason(event.stats))])
                    if self.include_usage:
                        yield self._chunk([], usage=usage(event.stats))
                    break
                else:
                    yield sse(self.error_body(event.error))
                    break
                event = await self.job.channel.get()  # type: ignore[union-attr]
            yield sse("[DONE]")
        finally:
            self.job.cancel.cancel()  # a no-op once it has finished
