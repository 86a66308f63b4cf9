"""Who answers an instruction set: a GGUF model here (through the chat engine's batched
decoding), or an OpenAI-compatible endpoint (data generation's teacher client).

An answerer says what identifies its answers before it loads anything (``fingerprint``: the
model file's SHA-256, or the endpoint and model id), so that cached answers are found without
loading the model. ``answer_all`` answers items and hands each answer back on the caller's
thread as soon as it is ready; ``cancel`` stops it between tokens.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from conversion import alpaca
from conversion.errors import PromptTooLongError
from conversion.output import atomic_write_text
from conversion.progress import CancelToken
from desktop.core import paths
from desktop.core.chat.prompts import AlpacaFormat, Message
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.evaluation.items import EvalItem
from desktop.core.settings import GenerationSettings

TOO_LONG = "prompt_too_long"  # the finish reason of an item longer than the context
_POLL = 0.1  # seconds between looks at the cancel token while answers are decoded


@dataclass(frozen=True)
class AnswerSettings:
    """How a set is answered; recorded with the answers and part of the cache key.

    Greedy by default (temperature 0, no repeat penalty): the same model gives the same answers,
    and the comparison measures the model rather than the dice."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    max_tokens: int = 512
    seed: int = 0
    prompt_format: str = "auto"  # the model's own chat template (Stanford's for Alpaca models)
    system: str = ""  # a system prompt; none by default

    def generation(self) -> GenerationSettings:
        return GenerationSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            max_tokens=self.max_tokens,
            seed=self.seed,
        ).validated()

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Generated:
    item: EvalItem
    response: str
    finish_reason: str
    generated_tokens: int


class Answerer(Protocol):
    name: str  # what the side is called (a model's name, "openai:MODEL")
    fingerprint: dict[str, Any]  # what identifies its answers (cache key)
    parallel: int  # answers in flight at once

    def answer_all(
        self,
        items: Sequence[EvalItem],
        settings: AnswerSettings,
        on_answer: Callable[[Generated], None],
        cancel: CancelToken,
    ) -> None: ...

    def close(self) -> None: ...


# -- a GGUF model here -----------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """The SHA-256 of a model file, remembered by path, size and modification time (hashing a
    4 GB model takes a while; the second run must be instant)."""
    stat = path.stat()
    known_file = paths.data_dir() / "evaluation" / "model-hashes.json"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        known = json.loads(known_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), str):
        return known[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    known[key] = digest.hexdigest()
    atomic_write_text(known_file, json.dumps(known, indent=1))
    return known[key]


class LocalAnswerer:
    """A GGUF model answering through a :class:`ChatEngine` with ``parallel`` slots: that many
    answers are decoded together (one sequence each of the engine's batch), each asked from a
    thread of its own as the local API's slot threads do. Loaded on first use."""

    def __init__(
        self,
        path: Path,
        *,
        name: str = "",
        parallel: int = 8,
        context_length: int = 2048,
        threads: int = 0,
        gpu_layers: int = -1,
    ) -> None:
        self.path = path
        self.name = name or path.stem
        self.parallel = max(1, parallel)
        self.context_length = context_length
        self.threads = threads
        self.gpu_layers = gpu_layers
        self.fingerprint = {"model_sha256": file_sha256(path)}
        self._engine: Any = None
        self.prompt_format = ""  # the format used, once loaded

    def _load(self, settings: AnswerSettings) -> Any:
        if self._engine is None:
            from desktop.core.chat.engine import ChatEngine

            engine = ChatEngine(
                self.path,
                context_length=self.context_length,
                threads=self.threads,
                gpu_layers=self.gpu_layers,
                prompt_format=settings.prompt_format,
                slots=self.parallel,
            )
            info = engine.load()
            self.prompt_format = info.prompt_format
            self._engine = engine
        return self._engine

    def _respond(
        self, engine: Any, item: EvalItem, settings: AnswerSettings, cancel: CancelToken
    ) -> Response:
        generation = settings.generation()
        if engine.prompt_format(settings.prompt_format).name == AlpacaFormat.name:
            # Stanford's own prompt, with its Input block when the item has an input (the
            # chat template of an Alpaca model folds both into one instruction).
            prompt = alpaca.format_prompt(item.instruction, item.input)
            return engine.complete(prompt, generation, cancel, stop=alpaca.STOP_STRINGS)
        messages: list[Message] = []
        if settings.system:
            messages.append({"role": "system", "content": settings.system})
        messages.append({"role": "user", "content": item.question})
        request = AnswerRequest(messages, generation, settings.prompt_format, cancel=cancel)
        return engine.respond(request)

    def answer_all(
        self,
        items: Sequence[EvalItem],
        settings: AnswerSettings,
        on_answer: Callable[[Generated], None],
        cancel: CancelToken,
    ) -> None:
        engine = self._load(settings)
        todo: queue.SimpleQueue[EvalItem | None] = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        workers = min(self.parallel, len(items))
        for _ in range(workers):
            todo.put(None)
        done: queue.SimpleQueue[Generated | BaseException] = queue.SimpleQueue()
        stop = CancelToken()  # the answers' own token: a failure stops the others too

        def work() -> None:
            while (item := todo.get()) is not None and not stop.cancelled:
                try:
                    response = self._respond(engine, item, settings, stop)
                    text = response.text()
                    stats = response.stats
                    assert stats is not None
                    done.put(
                        Generated(item, text.strip(), stats.finish_reason, stats.generated_tokens)
                    )
                except PromptTooLongError:
                    # This item does not fit the model's context: no answer (a judge counts it
                    # as no verdict), and the others go on.
                    done.put(Generated(item, "", TOO_LONG, 0))
                except BaseException as exc:  # handed to the caller's thread below
                    done.put(exc)
                    return

        threads = [
            threading.Thread(target=work, name=f"eval-answer-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            received = 0
            while received < len(items):
                if cancel.cancelled:
                    break
                try:
                    result = done.get(timeout=_POLL)
                except queue.Empty:
                    continue
                received += 1
                if isinstance(result, BaseException):
                    raise result
                if result.finish_reason != "cancelled":
                    on_answer(result)
        finally:
            stop.cancel()  # the threads end at their next token
            for thread in threads:
                thread.join()
        cancel.check()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


# -- an OpenAI-compatible endpoint --------------------------------------------------------------


class EndpointAnswerer:
    """A model behind an OpenAI-compatible chat API (data generation's teacher client: retries,
    backoff, the same key handling), ``parallel`` requests at a time."""

    def __init__(
        self, model: str, base_url: str, *, api_key: str | None = None, parallel: int = 4
    ) -> None:
        from conversion.selfinstruct.openai_teacher import OpenAITeacher

        self.name = f"{model} ({base_url})"
        self.parallel = max(1, parallel)
        self.fingerprint = {"endpoint": base_url.rstrip("/"), "model": model}
        self.prompt_format = "the endpoint's chat template"
        self._client = OpenAITeacher(model, base_url, api_key=api_key, api="chat")

    def answer_all(
        self,
        items: Sequence[EvalItem],
        settings: AnswerSettings,
        on_answer: Callable[[Generated], None],
        cancel: CancelToken,
    ) -> None:
        from conversion.selfinstruct.teachers import Sampling

        sampling = Sampling(settings.temperature, settings.top_p, settings.max_tokens)
        for start in range(0, len(items), self.parallel):
            batch = list(items[start : start + self.parallel])
            prompts = [_with_system(settings.system, item.question) for item in batch]
            seeds = [settings.seed] * len(batch)
            replies = self._client.generate(prompts, seeds, sampling, cancel, lambda _: None)
            for item, reply in zip(batch, replies, strict=True):
                on_answer(Generated(item, reply.text.strip(), reply.finish_reason, 0))

    def close(self) -> None:
        self._client.close()


def _with_system(system: str, question: str) -> str:
    # The teacher client sends one user message; a system prompt goes in front of it.
    return f"{system}\n\n{question}" if system else question


def api_key_for(base_url: str, env: str = "OPENAI_API_KEY") -> str | None:
    """The key for ``base_url`` as data generation finds it: the environment, else the
    keychain."""
    from desktop.core import secrets

    return os.environ.get(env) or secrets.ApiKeys().get(base_url)
