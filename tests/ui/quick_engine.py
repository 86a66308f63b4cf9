"""A stand-in for ChatEngine where a test needs many answers fast (a long session in the window).

It is put where the window's engine thread creates its engine, so everything else is the real
window: the composer, the session, the history on disk, the transcript. The model file's header
is read as the real engine reads it (so the model picker and the status show the starter model),
but no llama.cpp is loaded (like tests/core/scripted_engine.py, for the window): each answer is
written at once, in many small deltas, with the Markdown real answers contain (a list, inline
code, a code block). 300 answers from llama.cpp would take many minutes, and what a long session
wears out is the window's own work per answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from conversion.gguf_file import read_gguf_info
from desktop.core.chat.context_meter import ContextUse, Draft, measure
from desktop.core.chat.engine import ModelInfo
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import AnswerRequest, GenerationStats, Response


def answer_pieces(number: int, question: str) -> list[str]:
    """The deltas of answer ``number``: words, a list, inline code and a code block."""
    words = question.split()[:6]
    return [
        "Answer ",
        f"{number}",
        " to",
        *(f" {w}" for w in words),
        ":\n\n",
        "- the **first**",
        " point\n",
        "- the second,",
        " with `code`\n\n",
        "```python\n",
        f"print({number})\n",
        "```\n",
        "That is",
        " all.",
    ]


class QuickEngine:
    """What the engine thread uses of :class:`desktop.core.chat.engine.ChatEngine`."""

    answers = 0  # across instances: each answer in a test run has its own number

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int = 4096,
        threads: int = 0,
        gpu_layers: int = -1,
        prompt_format: str = "auto",
    ) -> None:
        self.model_path = Path(model_path)
        self.context_length = context_length
        self.threads = max(threads, 1)
        self.prompt_format_name = prompt_format
        self.info: ModelInfo | None = None

    def load(self, probe: bool = True) -> ModelInfo:
        header = read_gguf_info(self.model_path)
        context = min(self.context_length, header.context_length or self.context_length)
        self.info = ModelInfo(
            path=self.model_path,
            name=header.name,
            architecture=header.architecture,
            quantization=header.quantization,
            parameter_count=header.parameter_count,
            trained_context=header.context_length,
            context_length=context,
            has_chat_template=header.chat_template is not None,
            prompt_format="template",
            threads=self.threads,
            gpu_layers=0,
        )
        return self.info

    @property
    def loaded(self) -> bool:
        return self.info is not None

    def close(self) -> None:
        self.info = None

    def measure(self, draft: Draft) -> ContextUse:
        """The context meter, counting a token per word of each message (and two around it)."""
        assert self.info is not None

        def tokens(messages: list[Message]) -> list[int]:
            return [0] * sum(len(m["content"].split()) + 2 for m in messages)

        return measure(draft, tokens, self.info.context_length)

    def respond(self, request: AnswerRequest) -> Response:
        QuickEngine.answers += 1
        pieces = answer_pieces(QuickEngine.answers, request.messages[-1]["content"])
        prompt_tokens = sum(len(m["content"].split()) for m in request.messages)

        def produce(response: Response) -> Iterator[str]:
            started = time.perf_counter()
            sent, reason = 0, "stop"
            try:
                for piece in pieces:
                    if request.cancel.cancelled:
                        reason = "cancelled"
                        return
                    sent += 1
                    yield piece
            except GeneratorExit:
                reason = "cancelled"
                raise
            finally:
                response.stats = GenerationStats(
                    prompt_tokens=prompt_tokens,
                    evaluated_prompt_tokens=prompt_tokens,
                    generated_tokens=sent,
                    time_to_first_token=0.0,
                    total_seconds=max(time.perf_counter() - started, 1e-6),
                    finish_reason=reason,
                )

        return Response(produce)
