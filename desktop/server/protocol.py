"""OpenAI's request bodies (what this server understands of them) and its error shape.

Requests are read with pydantic, forgiving about fields that do not change the answer (clients
send ``user``, ``metadata``…), and strict about those that would: a request for something this
server cannot do (several choices, tools, log-probabilities) gets a clear error instead of an
answer that silently differs from what was asked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from desktop.core.settings import SAMPLING


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
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def unsupported(param: str, what: str) -> ApiError:
    return ApiError(
        400, f"{what} is not supported by this server.", code="unsupported", param=param
    )


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")


def _within(option: str) -> Any:
    """A request field refused outside the range the app's own setting keeps to."""
    limit = SAMPLING[option]
    return Field(None, ge=limit.low, le=limit.high)


class Sampling(_Request):
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


class EmbeddingRequest(_Request):
    model: str = ""
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
