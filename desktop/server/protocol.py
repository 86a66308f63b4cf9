"""OpenAI's request bodies (what this server understands of them) and its error shape.

Requests are read with pydantic, forgiving about fields that do not change the answer (clients
send ``user``, ``metadata``…), and strict about those that would: a request for something this
server cannot do (several choices, tools, log-probabilities) gets a clear error instead of an
answer that silently differs from what was asked.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from desktop.core.settings import SAMPLING

MAX_EMBEDDING_INPUTS = 2048
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to send back in a JSON answer: a lone surrogate shown as \\udxxx."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


class ApiError(Exception):
    """An answer in OpenAI's error shape: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": printable(self.message) or "The request failed.",
                "type": self.type,
                "param": printable(self.param) if self.param else self.param,
                "code": self.code,
            }
        }


def unsupported(param: str, what: str) -> ApiError:
    return ApiError(
        400, f"{what} is not supported by this server.", code="unsupported", param=param
    )


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")


def _lone_surrogate(body: Any) -> str | None:
    """Where the first text holding a lone surrogate is (``messages[0].content``), if any.

    JSON may spell one (``"\\ud800"``) though it is no character: Python keeps it, and it
    failed the moment anything encoded the text (the prompt, a log line, the error answer)."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return where or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    return printable(name)
                pending.append((name, item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


class _Body(_Request):
    """A whole request body: text that is not valid Unicode is refused before anything reads
    it, naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        where = _lone_surrogate(data)
        if where is not None:
            raise ApiError(
                400,
                f"{where} holds a lone surrogate (an unpaired \\ud800–\\udfff escape), which "
                "is not text. Send valid Unicode.",
                param=where,
                code="invalid_text",
            )
        return data


def _within(option: str) -> Any:
    """A request field refused outside the range the app's own setting keeps to."""
    limit = SAMPLING[option]
    return Field(None, ge=limit.low, le=limit.high)


class Sampling(_Body):
    """The sampling fields chat and text completions share."""

    model: str = ""
    temperature: float | None = _within("temperature")
    top_p: float | None = _within("top_p")
    # not OpenAI's, but llama.cpp's server, LM Studio and Ollama take them in the same bodies
    top_k: int | None = _within("top_k")
    min_p: float | None = _within("min_p")
    repeat_penalty: float | None = _within("repeat_penalty")
    max_tokens: int | None = _within("max_tokens")
    max_completion_tokens: int | None = _within("max_tokens")
    stop: str | list[str] | None = None
    seed: int | None = _within("seed")
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(None, ge=1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | int | None = None
    response_format: dict[str, Any] | None = None

    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise ApiError(400, "At most 4 stop sequences are allowed.", param="stop")
        return [s for s in stops if s]

    def requested_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def sampling(self) -> dict[str, Any]:
        """The sampling settings this request sets (None: the app's setting stays), but for
        the answer's length (``requested_tokens``)."""
        return {name: getattr(self, name) for name in SAMPLING if name != "max_tokens"}

    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))

    def json_mode(self) -> bool:
        kind = (self.response_format or {}).get("type", "text")
        if kind == "json_object":
            return True
        if kind != "text":
            raise unsupported("response_format", f"response_format of type “{kind}”")
        return False

    def refuse_unsupported(self) -> None:
        if self.n not in (None, 1):
            raise unsupported("n", "More than one choice (n > 1)")
        if self.logprobs:
            raise unsupported("logprobs", "Log-probabilities")
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(self, name):
                raise unsupported(name, name)
        extra = self.model_extra or {}
        if extra.get("tools") or extra.get("functions"):
            raise unsupported("tools", "Tool calling")


class InputMessage(_Request):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text":
                raise unsupported("messages", f"Message content of type “{part.get('type')}”")
            parts.append(str(part.get("text", "")))
        return "".join(parts)


class ChatRequest(Sampling):
    messages: list[InputMessage] = Field(min_length=1)


class CompletionRequest(Sampling):
    prompt: str | list[str]
    echo: bool = False
    suffix: str | None = None

    def prompt_text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) != 1:
            raise unsupported("prompt", "More than one prompt in a request")
        return self.prompt[0]


class EmbeddingRequest(_Body):
    model: str = ""
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if len(texts) > MAX_EMBEDDING_INPUTS:  # OpenAI's limit; 100,000 kept the model for minutes
            raise ApiError(
                400,
                f"input holds {len(texts):,} texts; at most {MAX_EMBEDDING_INPUTS:,} are "
                "embedded in one request.",
                param="input",
                code="too_many_inputs",
            )
        return texts
