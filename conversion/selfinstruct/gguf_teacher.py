"""A GGUF model on this machine as the teacher, through llama-cpp-python.

Sampling is only temperature and top-p (top-k and min-p off), as OpenAI's completions were for
Stanford. Each request's ``max_tokens`` is shortened to what the context has left after the
prompt; a reply that runs into it stops with ``"length"`` and its last block is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conversion import llama_log
from conversion.errors import Cancelled, ModelFileError, TeacherError
from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken
from conversion.selfinstruct.teachers import Activity, Reply, Sampling

log = logging.getLogger(__name__)
DEFAULT_CONTEXT = 4096


class GgufTeacher:
    continuation = True

    def __init__(
        self,
        path: Path,
        *,
        api: str = "completions",
        context_length: int = DEFAULT_CONTEXT,
        threads: int | None = None,
    ) -> None:

        info = read_gguf_info(path)  # a clear error for a missing, truncated or non-GGUF file
        self.path = path
        self.identity = f"gguf:{path.name}"
        self.api = api
        self.continuation = api == "completions"
        context = min(context_length, info.context_length or context_length)
        self._llama = llama_log.load(
            path,
            error=ModelFileError,
            n_ctx=context,
            n_batch=min(512, context),
            n_threads=threads,
            n_threads_batch=threads,
        )
        self.context_length = self._llama.n_ctx()

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
    ) -> list[Reply]:
        replies = []
        for i, (prompt, seed) in enumerate(zip(prompts, seeds, strict=True)):
            label = f"reply {i + 1}/{len(prompts)}"
            replies.append(self._one(prompt, seed, sampling, cancel, activity, label))
        return replies

    def _one(
        self,
        prompt: str,
        seed: int,
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
        label: str,
    ) -> Reply:
        prompt_tokens = len(self._llama.tokenize(prompt.encode("utf-8"), add_bos=True))
        room = self.context_length - prompt_tokens
        if room < 16:
            raise TeacherError(
                f"The prompt takes {prompt_tokens} tokens of this model's {self.context_length}-"
                "token context, which leaves no room for an answer.",
                "Raise --ctx, shorten --prompt-file, or lower --prompt-tasks.",
            )
        common: dict[str, Any] = dict(
            max_tokens=min(sampling.max_tokens, room),
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            stop=list(sampling.stop),
            seed=seed,
            stream=True,
        )
        stream: Any  # llama-cpp-python's TypedDict chunks, read as plain dictionaries
        if self.continuation:
            stream = self._llama.create_completion(prompt, **common)
        else:
            messages: Any = [{"role": "user", "content": prompt}]
            stream = self._llama.create_chat_completion(messages, **common)
        parts: list[str] = []
        finish = "stop"
        try:
            for count, chunk in enumerate(stream, start=1):
                cancel.check()
                choice = chunk["choices"][0]
                parts.append(
                    choice["text"] if self.continuation else choice["delta"].get("content") or ""
                )
                finish = choice.get("finish_reason") or finish
                if count % 16 == 0:
                    activity(f"{label}: {count} tokens")
        except Cancelled:
            stream.close()
            raise
        return Reply("".join(parts), finish)

    def close(self) -> None:
        self._llama.close()
