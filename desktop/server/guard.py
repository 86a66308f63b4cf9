"""The server's front door (an ASGI middleware): which requests reach the API at all.

- Bound to loopback, only requests whose ``Host`` names this computer are served: a web page
  that points its own domain name at 127.0.0.1 (DNS rebinding) gets 403 instead of the API.
- A ``POST`` must say ``Content-Type: application/json``: a web page can only send that with
  the browser's permission (a CORS preflight, refused unless ``--cors-origin`` allows it).
- With a key, ``Authorization: Bearer <key>`` is required (compared in constant time).
- A body larger than the limit is refused with 413 before it is parsed.
Every refusal is in OpenAI's error shape.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop.server.config import ServerConfig, is_loopback
from desktop.server.protocol import ApiError


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self._check(scope, headers)
            body = await self._read_body(receive, headers)
        except ApiError as error:
            await _refuse(send, error)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, for those who watch for it

        await self.app(scope, replay, send)

    def _check(self, scope: Scope, headers: dict[str, str]) -> None:
        if self.config.loopback and not is_loopback(_host_name(headers.get("host", ""))):
            raise ApiError(
                403,
                "This server only answers requests addressed to this computer (localhost).",
                type="permission_error",
                code="host_not_allowed",
            )
        if scope["method"] == "OPTIONS":
            return  # a CORS preflight: answered (or not) by the CORS middleware
        key = self.config.api_key
        if key:
            given = headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), key.encode()
            ):
                raise ApiError(
                    401,
                    "Incorrect or missing API key. Send the key shown in Huacaya's Settings → "
                    "Local API (or printed by `huacaya serve`) as a Bearer token.",
                    code="invalid_api_key",
                )
        if scope["method"] == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise ApiError(
                    415, "Send the request body as JSON (Content-Type: application/json)."
                )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.config.max_body_bytes:
            raise self._too_large()

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""  # the client left before sending it all
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.config.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> ApiError:
        limit = self.config.max_body_bytes
        return ApiError(
            413,
            f"The request is larger than this server's limit of {limit / 2**20:.0f} MiB.",
            code="request_too_large",
        )


async def _refuse(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
