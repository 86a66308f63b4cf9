"""Prompt formats: how a conversation becomes the text a model continues.

``auto`` uses the chat template stored in the GGUF (a Jinja template, rendered in a sandbox the
way Hugging Face renders it); a model without one gets the exact Stanford Alpaca template.
The built-in formats (Alpaca, ChatML, Llama-3) can also be chosen by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conversion import alpaca
from desktop.core.errors import GenerationError

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    # True: the tokenizer adds BOS as the model's metadata says (templates that write
    # ``{{ bos_token }}`` themselves have it stripped first, so it is never doubled).
    add_special: bool
    stop: list[str] = field(default_factory=list)
    format_name: str = ""


class PromptFormat:
    name = ""
    label = ""

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        raise NotImplementedError


class ChatMLFormat(PromptFormat):
    name = "chatml"
    label = "ChatML"

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        text = "".join(parts) + "<|im_start|>assistant\n"
        return RenderedPrompt(text, add_special=True, stop=["<|im_end|>"], format_name=self.name)


class Llama3Format(PromptFormat):
    name = "llama3"
    label = "Llama 3"

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        text = ""
        for m in messages:
            text += f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}"
            text += "<|eot_id|>"
        text += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        return RenderedPrompt(text, add_special=True, stop=["<|eot_id|>"], format_name=self.name)


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


class JinjaTemplateFormat(PromptFormat):
    """The chat template a model ships in its GGUF metadata."""

    name = "template"
    label = "Model's chat template"
    stop: tuple[str, ...] = ()

    def __init__(
        self, template: str, bos_token: str = "", eos_token: str = "", adds_bos: bool = True
    ) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        env.filters["tojson"] = _tojson
        self.template = env.from_string(template)  # raises TemplateSyntaxError
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.adds_bos = adds_bos  # does the tokenizer add BOS itself (the model's metadata)?

    def _render(self, messages: Sequence[Message]) -> str:
        return self.template.render(
            messages=list(messages),
            add_generation_prompt=True,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            tools=None,
        )

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        try:
            text = self._render(messages)
        except jinja2.exceptions.TemplateError as exc:
            merged = _merge_system_into_first_user(messages)
            if merged is None:
                raise GenerationError(
                    f"The model's chat template refused this conversation: {exc}",
                    "Choose another prompt format in the chat settings.",
                ) from exc
            # Some templates (Mistral, Gemma) reject a system role: fold it into the question.
            text = self._render(merged)
        if self.adds_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]  # the tokenizer adds it: never twice
        return RenderedPrompt(text, add_special=True, stop=list(self.stop), format_name=self.name)


class AlpacaFormat(JinjaTemplateFormat):
    """Stanford Alpaca's template (see ``conversion.alpaca.CHAT_TEMPLATE``)."""

    name = "alpaca"
    label = "Alpaca (Stanford)"
    stop = alpaca.STOP_STRINGS

    def __init__(self, bos_token: str = "", eos_token: str = "", adds_bos: bool = True) -> None:
        super().__init__(alpaca.CHAT_TEMPLATE, bos_token, eos_token, adds_bos)


def _merge_system_into_first_user(messages: Sequence[Message]) -> list[Message] | None:
    systems = [m for m in messages if m["role"] == "system"]
    if not systems:
        return None
    rest = [dict(m) for m in messages if m["role"] != "system"]
    system_text = "\n\n".join(m["content"] for m in systems)
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system_text}\n\n{message['content']}"
            break
    return rest  # type: ignore[return-value]


BUILTIN_FORMATS: dict[str, type[PromptFormat]] = {
    AlpacaFormat.name: AlpacaFormat,
    ChatMLFormat.name: ChatMLFormat,
    Llama3Format.name: Llama3Format,
}
FORMAT_CHOICES = ("auto", *BUILTIN_FORMATS)


def choose_format(
    name: str,
    chat_template: str | None,
    bos_token: str = "",
    eos_token: str = "",
    adds_bos: bool = True,
) -> PromptFormat:
    """The format called ``name``; ``auto`` means the model's template, else Alpaca."""
    if name == AlpacaFormat.name:
        return AlpacaFormat(bos_token, eos_token, adds_bos)
    if name in BUILTIN_FORMATS:
        return BUILTIN_FORMATS[name]()
    if name != "auto":
        raise GenerationError(
            f"Unknown prompt format “{name}”.", f"Choose one of: {', '.join(FORMAT_CHOICES)}."
        )
    if chat_template:
        try:
            return JinjaTemplateFormat(chat_template, bos_token, eos_token, adds_bos)
        except jinja2.exceptions.TemplateError as exc:
            log.warning("the model's chat template does not compile (%s); using Alpaca", exc)
    return AlpacaFormat(bos_token, eos_token, adds_bos)
