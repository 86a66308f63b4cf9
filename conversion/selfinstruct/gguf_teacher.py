"""A GGUF model on this machine as the teacher, decoding a whole batch of prompts at once.

``--batch-size`` prompts are decoded together in one llama.cpp context, one slot each (see
``conversion/decoding``): on a CPU that costs little more per step than one prompt, and the
instructions every prompt starts with are evaluated once for all of them. The runner asks each
request on its own and the next as soon as one is answered, so no slot waits for the batch's
longest reply.

Sampling is only temperature and top-p (top-k and min-p off), as OpenAI's completions were for
Stanford, with each request's own seed. Each request's ``max_tokens`` is shortened to what the
context has left after the prompt; a reply that runs into it stops with ``"length"`` and its last
block is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from llama_cpp.llama_chat_format import Jinja2ChatFormatter, format_llama2

from conversion.cpu_threads import choose_threads
from conversion.decoding.decoder import BatchDecoder
from conversion.decoding.model import GgufModel
from conversion.decoding.sampler import SamplerSettings
from conversion.decoding.stream import DecodeJob, DecodeStream
from conversion.errors import ModelFileError, TeacherError
from conversion.gguf_file import read_gguf_info
from conversion.progress import CancelToken
from conversion.selfinstruct.teachers import Activity, Reply, Sampling

log = logging.getLogger(__name__)
DEFAULT_CONTEXT = 4096
MAX_SLOTS = 64  # prompts decoded together at most; a larger batch waits for free slots


class GgufTeacher:
    continuation = True
    # ``generate`` may be called from several threads at once, and prompts asked separately are
    # decoded together: the runner keeps every slot busy (runner.py's ``_Asking``).
    concurrent = True

    def __init__(
        self,
        path: Path,
        *,
        api: str = "completions",
        context_length: int = DEFAULT_CONTEXT,
        threads: int | None = None,
        parallel: int = 1,
        background: bool = False,
    ) -> None:
        """``parallel``: prompts decoded together (the run's batch size), each with its own
        ``context_length`` tokens of cache. ``threads``: llama.cpp's CPU threads; by default
        the cores idle when the teacher is loaded (``conversion/cpu_threads``: generating data
        is a long job, like training), then as many as the machine's load leaves free while it
        runs; a chat answer keeps a core free instead. ``background``: decode at a lower CPU
        priority, so that a chat answered in the same process (the window's) keeps its pace
        while data is made."""
        info = read_gguf_info(path)  # a clear error for a missing, truncated or non-GGUF file
        self.path = path
        self.identity = f"gguf:{path.name}"
        self.api = api
        self.continuation = api == "completions"
        context = min(context_length, info.context_length or context_length)
        self.threads = choose_threads(threads or 0)
        self._model = GgufModel.load(path, error=ModelFileError)
        try:
            self._decoder = BatchDecoder(
                self._model,
                context=context,
                slots=min(max(1, parallel), MAX_SLOTS),
                threads=self.threads.threads,
                name="huacaya-teacher",
                background=background,
                follow_load=self.threads.automatic,
            )
        except BaseException:
            self._model.close()
            raise
        self.context_length = self._decoder.context_length
        self._chat = (
            None
            if self.continuation or not info.chat_template
            else Jinja2ChatFormatter(
                info.chat_template,
                eos_token=self._model.token_text(self._model.eos),
                bos_token=self._model.token_text(self._model.bos),
            )
        )

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
    ) -> list[Reply]:
        jobs = [
            self._job(prompt, seed, sampling, cancel)
            for prompt, seed in zip(prompts, seeds, strict=True)
        ]
        streams = self._decoder.submit_all(jobs)
        try:
            replies = []
            for i, stream in enumerate(streams):
                label = f"reply {i + 1}/{len(streams)} (decoded together)"
                replies.append(self._reply(stream, label, activity))
                cancel.check()
            return replies
        finally:
            for stream in streams:
                stream.close()  # a no-op for those that ended

    def _job(self, prompt: str, seed: int, sampling: Sampling, cancel: CancelToken) -> DecodeJob:
        stops = list(sampling.stop)
        if self.continuation:
            tokens = self._model.tokenize(prompt, add_special=True, special=True)
        else:
            messages = [{"role": "user", "content": prompt}]
            rendered = (
                self._chat(messages=messages)  # type: ignore[arg-type]
                if self._chat is not None
                else format_llama2(messages)  # llama-cpp-python's fallback
            )
            tokens = self._model.tokenize(
                rendered.prompt, add_special=not rendered.added_special, special=True
            )
            extra = rendered.stop or []
            stops += [extra] if isinstance(extra, str) else extra
        room = self.context_length - len(tokens)
        if room < 16:
            raise TeacherError(
                f"The prompt takes {len(tokens)} tokens of this model's {self.context_length}-"
                "token context, which leaves no room for an answer.",
                "Raise --ctx, shorten --prompt-file, or lower --prompt-tasks.",
            )
        sampler = SamplerSettings(
            temperature=sampling.temperature,
            top_k=0,
            top_p=sampling.top_p,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=seed,
        )
        return DecodeJob(
            tokens, sampler, min(sampling.max_tokens, room), tuple(s for s in stops if s), cancel
        )

    @staticmethod
    def _reply(stream: DecodeStream, label: str, activity: Activity) -> Reply:
        parts: list[str] = []
        for count, text in enumerate(stream, start=1):
            parts.append(text)
            if count % 16 == 0:
                activity(f"{label}: {count} pieces of text")
        result = stream.result
        assert result is not None
        return Reply("".join(parts), result.finish_reason)

    def close(self) -> None:
        self._decoder.close()
        self._model.close()
