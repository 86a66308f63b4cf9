"""What the model worker does for each kind of request: a chat answer (driven through a
:class:`ChatSession`, exactly as the window's), a text completion, embeddings.

Each function here returns the ``work`` of a :class:`~desktop.server.worker.Job`; it runs on one
of the worker's slot threads (several at once: the chat engine decodes their answers together)
and reports through the job's channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from desktop.core.chat.answer import run_answer
from desktop.core.chat.prompts import Message
from desktop.core.chat.session import ChatSession
from desktop.core.documents.embedder import Embedder
from desktop.core.models.embedding_model import ensure_embedding_model
from desktop.core.models.library import ModelEntry
from desktop.core.settings import GenerationSettings
from desktop.server.protocol import ApiError, InputMessage, Sampling
from desktop.server.worker import Delta, Finished, Job, ModelWorker, Stopped

Work = Callable[[ModelWorker, Job], None]


def generation_for(request: Sampling, base: GenerationSettings, limit: int) -> GenerationSettings:
    """The app's settings for the model (``base``), with what the request sets over them."""
    wanted = request.requested_tokens()
    if wanted is not None and wanted > limit:
        raise ApiError(
            400,
            f"max_tokens is {wanted:,}; this server answers with at most {limit:,} tokens.",
            param="max_tokens",
            code="max_tokens_too_large",
        )
    return base.overridden(
        max_tokens=min(wanted or base.max_tokens, limit), **request.sampling()
    ).validated()


def conversation(messages: list[InputMessage]) -> tuple[str, list[Message], str]:
    """(system prompt, earlier turns, the question): a request's messages as a chat session
    holds them. ``developer`` is OpenAI's newer name for ``system``."""
    turns: list[Message] = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        for m in messages
    ]
    system = ""
    if turns[0]["role"] == "system":
        system = turns.pop(0)["content"]
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise ApiError(400, "The last message must be a non-empty user message.", param="messages")
    return system, turns[:-1], turns[-1]["content"]


def _refuse_if_cancelled(job: Job) -> None:
    """An answer cut short by a cancel is no answer: its client left (and hears nothing), or the
    server is stopping (and the client is told so, not handed half an answer as complete)."""
    if job.cancel.cancelled:
        raise Stopped()


def chat_work(
    entry: ModelEntry,
    messages: list[InputMessage],
    settings: GenerationSettings,
    stops: list[str],
    json_mode: bool,
) -> Work:
    system, earlier, question = conversation(messages)

    def work(worker: ModelWorker, job: Job) -> None:
        session = ChatSession(None, lambda model: settings)
        session.set_model(entry.id, entry.name)
        session.configure(system_prompt=system)
        session.adopt(earlier)
        request = replace(
            session.ask(question), cancel=job.cancel, stop=tuple(stops), json_mode=json_mode
        )
        with worker.using(entry) as engine:
            answer = run_answer(session, engine, request, lambda text: job.report(Delta(text)))
        job.stats = answer.stats
        _refuse_if_cancelled(job)
        job.report(Finished(answer.stats, answer.content))

    return work


def completion_work(
    entry: ModelEntry, prompt: str, settings: GenerationSettings, stops: list[str], json_mode: bool
) -> Work:
    def work(worker: ModelWorker, job: Job) -> None:
        text = []
        with worker.using(entry) as engine:
            response = engine.complete(
                prompt, settings, job.cancel, stop=stops, json_mode=json_mode
            )
            for delta in response:
                text.append(delta)
                job.report(Delta(delta))
        assert response.stats is not None
        job.report(Finished(response.stats.record(), "".join(text)))

    return work


def embedding_work(texts: list[str]) -> Work:
    def work(worker: ModelWorker, job: Job) -> None:
        model = ensure_embedding_model(cancel=job.cancel)
        with worker.embedding:
            if worker.embedder is None:  # the documents' embedder: the same vectors as indexing
                worker.embedder = Embedder.for_model(model, worker.config.threads)
            vectors = worker.embedder.embed(texts)
            tokens = worker.embedder.count_tokens(texts)
        job.report(Finished({}, result=(vectors.tolist(), tokens)))

    return work
