"""Prompt formats: how a conversation becomes the text a model continues.

``auto`` uses the chat template stored in the GGUF (a Jinja template, rendered in a sandbox the
way Hugging Face renders it); a model without one gets the exact Stanford Alpaca template.
The built-in formats (Alpaca, ChatML, Llama-3) can also be chosen by hand.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from llama_cpp import llama_chat_format
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from conversion import alpaca
from conversion.errors import GenerationError

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


MAX_RENDER_CHARS = 4_000_000  # far beyond any context window
MAX_RENDER_SECONDS = 2.0


class _LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's sandbox (no attribute tricks, ``range`` capped) plus limits on time and size.

    A template comes from the model file, so it may be hostile: ``'a' * 10**9`` or nested loops
    would exhaust memory or time. Repetition and powers are checked before they run, every call
    checks the render's deadline, and :meth:`JinjaTemplateFormat._render` caps the output.
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        # The extensions Hugging Face's (and llama-cpp-python's) chat templates may use.
        super().__init__(
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
        )
        self._deadline = threading.local()
        for name in ("center", "indent", "wordwrap", "truncate", "format"):
            self.filters[name] = _limited_filter(name, self.filters[name])

    def start(self) -> None:
        self._deadline.at = time.monotonic() + MAX_RENDER_SECONDS

    def check_time(self) -> None:
        if time.monotonic() > getattr(self._deadline, "at", float("inf")):
            raise SecurityError(f"it ran longer than {MAX_RENDER_SECONDS:.0f} s")

    def call_binop(self, context, operator, left, right):
        if operator == "**" and (abs(right) > 64 or abs(left) > 1 << 32):
            raise SecurityError("it computes a huge power")
        if operator == "%" and isinstance(left, str) and _HUGE_WIDTH.search(left):
            raise SecurityError("it formats text wider than any context window")
        if operator == "*":
            for item, count in ((left, right), (right, left)):
                sized = isinstance(item, (str, list, tuple)) and isinstance(count, int)
                if sized and len(item) * count > MAX_RENDER_CHARS:
                    raise SecurityError("it repeats text beyond any context window")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):
        __self.check_time()
        _refuse_huge(*args, *kwargs.values())
        return super().call(__context, __obj, *args, **kwargs)


def _refuse_huge(*values: object) -> None:
    """``center(10**9)``, ``ljust``, ``indent`` and friends: no size argument beyond the cap."""
    for value in values:
        if isinstance(value, int) and abs(value) > MAX_RENDER_CHARS:
            raise SecurityError("it asks for text beyond any context window")
        if isinstance(value, str) and _HUGE_WIDTH.search(value):
            raise SecurityError("it formats text wider than any context window")


_HUGE_WIDTH = re.compile(r"%[-+ #0]*\d{7,}")


def _limited_filter(name: str, original):
    def checked(*args, **kwargs):
        _refuse_huge(*args, *kwargs.values())
        return original(*args, **kwargs)

    checked.__name__ = name
    return checked


class JinjaTemplateFormat(PromptFormat):
    """The chat template a model ships in its GGUF metadata."""

    name = "template"
    label = "Model's chat template"
    stop: tuple[str, ...] = ()

    def __init__(
        self, template: str, bos_token: str = "", eos_token: str = "", adds_bos: bool = True
    ) -> None:
        env = _LimitedEnvironment()
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        env.filters["tojson"] = _tojson
        self.env = env
        self.template = env.from_string(template)  # raises TemplateSyntaxError
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.adds_bos = adds_bos  # does the tokenizer add BOS itself (the model's metadata)?

    def _render(self, messages: Sequence[Message]) -> str:
        self.env.start()
        parts: list[str] = []
        size = 0
        try:
            for part in self.template.generate(
                messages=list(messages),
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=None,
            ):
                parts.append(part)
                size += len(part)
                if size > MAX_RENDER_CHARS:
                    raise SecurityError("it produced more text than any context window holds")
                self.env.check_time()
        except jinja2.exceptions.TemplateError:
            raise
        except Exception as exc:  # the template is data from the file: its errors are its own
            raise jinja2.exceptions.TemplateError(f"{type(exc).__name__}: {exc}") from None
        return "".join(parts)

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        try:
            text = self._render(messages)
        except jinja2.exceptions.TemplateError as exc:
            merged = _merge_system_into_first_user(messages)
            if merged is None or isinstance(exc, SecurityError):
                raise GenerationError(
                    f"The model's chat template refused this conversation: {exc}",
                    "Choose another prompt format in the chat settings.",
                ) from exc
            # Some templates (Mistral, Gemma) reject a system role: fold it into the question.
            text = self._render(merged)
        if self.adds_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]  # the tokenizer adds it: never twice
        return RenderedPrompt(text, add_special=True, stop=list(self.stop), format_name=self.name)


PROBE_CONVERSATION: list[Message] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "What is 2 + 2?"},
]


def template_problem(
    template: str, bos_token: str = "", eos_token: str = "", adds_bos: bool = True
) -> str:
    """Why ``template`` cannot be used (it does not compile or render a plain conversation).

    An empty string means it works.
    """
    try:
        fmt = JinjaTemplateFormat(template, bos_token, eos_token, adds_bos)
        text = fmt.render(PROBE_CONVERSATION).text
    except jinja2.exceptions.TemplateError as exc:
        return str(exc)[:300]
    except GenerationError as exc:
        prefix = "The model's chat template refused this conversation: "
        return exc.message.removeprefix(prefix)[:300]
    if "What is 2 + 2?" not in text:
        return "it leaves the question out of the prompt"
    return ""


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


class _LazyFormatter(llama_chat_format.Jinja2ChatFormatter):
    """llama-cpp-python compiles every chat template in a file while opening it. A template that
    does not compile would make the model unusable (a traceback, not a message), and Jinja folds
    constants while compiling, so ``{{ 'a' * 10**9 }}`` costs a gigabyte and a minute before we
    could judge it. We render templates ourselves (the formats above, with limits and
    a fallback format), so here a template is compiled only if llama-cpp-python's own chat API
    is ever used."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._args, self._kwargs, self._compiled = args, kwargs, False

    def __call__(self, **kwargs: object):
        if not self._compiled:
            super().__init__(*self._args, **self._kwargs)  # type: ignore[arg-type]
            self._compiled = True
        return super().__call__(**kwargs)  # type: ignore[arg-type]


llama_chat_format.Jinja2ChatFormatter = _LazyFormatter  # type: ignore[misc]
