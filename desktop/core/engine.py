"""ChatEngine: one GGUF model in llama.cpp, answering a conversation as a stream of text.

A ``Llama`` object is not thread-safe, so an engine belongs to the thread that loaded it and
refuses calls from any other. Each request carries its own :class:`CancelToken`, created with
the request: cancelling it from any thread — even before the first token — ends the stream
before the next token and leaves the model ready for the next question. Follow-up questions
reuse the evaluated prefix of the conversation (llama.cpp's KV cache).
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from conversion.gguf_file import GGUFInfo, read_gguf_info
from desktop.core import hardware, llama_log, model_probe
from desktop.core.errors import GenerationError, ModelLoadError, PromptTooLongError
from desktop.core.progress import CancelToken
from desktop.core.prompts import (
    AlpacaFormat,
    ChatMLFormat,
    Llama3Format,
    Message,
    PromptFormat,
    RenderedPrompt,
    choose_format,
    template_problem,
)
from desktop.core.settings import GenerationSettings
from desktop.core.text_stream import StreamOutcome, text_stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    architecture: str
    quantization: str
    parameter_count: int
    trained_context: int
    context_length: int
    has_chat_template: bool
    prompt_format: str
    threads: int
    gpu_layers: int
    notice: str = ""  # something the user should know, e.g. the chat template was not usable


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int  # the whole prompt
    evaluated_prompt_tokens: int  # what had to be evaluated (the rest came from the cache)
    generated_tokens: int
    time_to_first_token: float  # seconds from the request to the first token
    total_seconds: float
    finish_reason: str  # "stop", "length" or "cancelled"
    dropped_messages: int = 0  # oldest messages left out so the conversation fits

    @property
    def tokens_per_second(self) -> float:
        """Generation speed, prompt processing excluded."""
        decode_time = self.total_seconds - self.time_to_first_token
        if self.generated_tokens < 2 or decode_time <= 0:
            return 0.0
        return (self.generated_tokens - 1) / decode_time


class ChatEngine:
    """Loads one model and streams answers to conversations."""

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
        self.requested_context = context_length
        self.threads = threads if threads > 0 else hardware.default_threads()
        self.gpu_layers = gpu_layers if gpu_layers >= 0 else hardware.default_gpu_layers()
        self.prompt_format_name = prompt_format
        self._llama: llama_cpp.Llama | None = None
        self._format: PromptFormat | None = None
        self._format_args: tuple[str | None, str, str, bool] = (None, "", "", True)
        self._owner: int | None = None
        self.info: ModelInfo | None = None
        self.last_stats: GenerationStats | None = None
        self._window_anchor: tuple[str, str] | None = None  # see fit_to_context
        self.template_problem = ""  # why the model's own chat template is not used, if it isn't
        self.fallback_format = AlpacaFormat.name

    # -- lifecycle -------------------------------------------------------------------------

    def load(self, probe: bool = True) -> ModelInfo:
        """Check the file, load it into llama.cpp and pick the prompt format.

        A file opened for the first time is first opened in a child process
        (:mod:`desktop.core.model_probe`); ``probe=False`` is that child.
        Raises ModelFileError (missing, not GGUF, truncated, invalid) or ModelLoadError.
        """
        header = read_gguf_info(self.model_path)
        verdict = (
            model_probe.probe_model(self.model_path, self.gpu_layers, header=header)
            if probe
            else None
        )
        llama_log.install()
        llama_log.take_recent_errors()
        context = self._context_for(header)
        # verbose=True: with False, llama-cpp-python silences the whole process's stdout and
        # stderr (file descriptors 1 and 2) while loading, swallowing other threads' output.
        # Its own Python prints are captured here; llama.cpp's log goes to our callback.
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                llama = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=context,
                    n_batch=min(512, context),
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_gpu_layers=self.gpu_layers,
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            errors = "; ".join(llama_log.take_recent_errors()[-3:])
            detail = f" llama.cpp said: {errors}" if errors else ""
            raise ModelLoadError(
                f"llama.cpp could not load “{self.model_path.name}”.{detail}"
            ) from exc
        finally:
            log.debug("llama-cpp-python while loading: %s", said.getvalue())
        llama.verbose = False  # no per-answer prints from here on
        self._llama = llama
        self._owner = threading.get_ident()
        bos = self._token_text(llama.token_bos())
        eos = self._token_text(llama.token_eos())
        adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(llama._model.vocab))
        template = header.chat_template
        if verdict is not None:
            self.template_problem = verdict.template_problem
            self.fallback_format = verdict.fallback_format
        elif template:
            self.template_problem = template_problem(template, bos, eos, adds_bos)
            self.fallback_format = self._fallback_format()
        if self.template_problem:
            log.warning("the model's chat template is not usable: %s", self.template_problem)
            template = None
        self._format_args = (template, bos, eos, adds_bos)
        self._format = choose_format(self._format_name(self.prompt_format_name), *self._format_args)
        self.info = self._describe(header, llama.n_ctx())
        log.info(
            "loaded %s (%s, ctx %d, %d threads)",
            self.info.name,
            self._format.name,
            self.info.context_length,
            self.threads,
        )
        return self.info

    def close(self) -> None:
        """Free the model (idempotent)."""
        if self._llama is not None:
            self._check_thread()
            self._llama.close()
            self._llama = None
            self._owner = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def _fallback_format(self) -> str:
        """The built-in format whose special tokens this vocabulary has (else Alpaca)."""
        markers = ((ChatMLFormat.name, "<|im_start|>"), (Llama3Format.name, "<|eot_id|>"))
        for name, marker in markers:
            if len(self.tokenize(marker)) == 1:
                return name
        return AlpacaFormat.name

    def _format_name(self, name: str) -> str:
        return self.fallback_format if name == "auto" and self.template_problem else name

    def _context_for(self, header: GGUFInfo) -> int:
        trained = header.context_length
        requested = self.requested_context if self.requested_context > 0 else trained or 4096
        # Beyond the trained length a model without rope scaling produces gibberish.
        return min(requested, trained) if trained else requested

    def _describe(self, header: GGUFInfo, context: int) -> ModelInfo:
        assert self._format is not None
        return ModelInfo(
            path=self.model_path,
            name=header.name,
            architecture=header.architecture,
            quantization=header.quantization,
            parameter_count=header.parameter_count,
            trained_context=header.context_length,
            context_length=context,
            has_chat_template=header.chat_template is not None,
            prompt_format=self._format.name,
            threads=self.threads,
            gpu_layers=self.gpu_layers,
            notice=(
                f"The model's chat template cannot be used ({self.template_problem}); "
                f"answering with the {self._format.label} format instead."
                if self.template_problem
                else ""
            ),
        )

    # -- prompts ---------------------------------------------------------------------------

    def set_prompt_format(self, name: str) -> None:
        """Switch how conversations are rendered (no reload; the cache simply won't match)."""
        if name != self.prompt_format_name and self._format is not None:
            self._format = choose_format(self._format_name(name), *self._format_args)
            self.prompt_format_name = name

    def render_prompt(self, messages: Sequence[Message]) -> RenderedPrompt:
        if self._format is None:
            raise GenerationError("No model is loaded.", "Load a model first.")
        return self._format.render(messages)

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        llama = self._require()
        return llama.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)

    # -- generation ------------------------------------------------------------------------

    def forget_cache(self) -> None:
        """Drop the evaluated prefix so the next prompt is evaluated from scratch."""
        self._require().reset()

    def stream(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        *,
        stop: Sequence[str] = (),
        grammar: llama_cpp.LlamaGrammar | None = None,
    ) -> Iterator[str]:
        """Yield the answer to ``messages`` as text deltas; sets :attr:`last_stats` at the end.

        Cancelling ``cancel`` (from any thread) or closing the iterator early ends generation;
        the model stays usable. ``stop``: more stop strings than the prompt format's;
        ``grammar``: constrain sampling (the API's JSON mode).
        """
        llama = self._require()
        settings = (settings or GenerationSettings()).validated()
        kept, tokens, rendered = self.fit_to_context(messages, settings)
        max_tokens = min(settings.max_tokens, llama.n_ctx() - len(tokens))
        cached = self._cached_prefix(tokens)
        self.last_stats = None
        dropped = len(messages) - len(kept)
        stops = [*rendered.stop, *stop]
        return self._generate(
            llama, tokens, cached, max_tokens, settings, stops, dropped, cancel, grammar
        )

    def complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        *,
        stop: Sequence[str] = (),
        grammar: llama_cpp.LlamaGrammar | None = None,
    ) -> Iterator[str]:
        """Continue ``prompt`` as raw text (no chat template), like :meth:`stream` otherwise.

        A prompt that leaves no room for an answer is refused with PromptTooLongError.
        """
        llama = self._require()
        settings = (settings or GenerationSettings()).validated()
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        if not tokens:  # an empty prompt, and a model without a start token to begin from
            raise GenerationError("The prompt is empty: there is nothing to continue.")
        room = llama.n_ctx() - len(tokens)
        if room < 1:
            raise PromptTooLongError(
                f"This prompt is {len(tokens):,} tokens long; the model's context holds "
                f"{llama.n_ctx():,} tokens.",
                "Shorten the prompt, or raise the context length in Settings.",
            )
        cached = self._cached_prefix(tokens)
        self.last_stats = None
        max_tokens = min(settings.max_tokens, room)
        return self._generate(
            llama, tokens, cached, max_tokens, settings, list(stop), 0, cancel, grammar
        )

    def _prompt_tokens(self, messages: Sequence[Message]) -> tuple[list[int], RenderedPrompt]:
        rendered = self.render_prompt(messages)
        llama = self._require()
        tokens = llama.tokenize(
            rendered.text.encode("utf-8"), add_bos=rendered.add_special, special=True
        )
        return tokens, rendered

    def fit_to_context(
        self, messages: Sequence[Message], settings: GenerationSettings
    ) -> tuple[list[Message], list[int], RenderedPrompt]:
        """Drop the oldest turns until the prompt leaves room for the answer.

        The system prompt and the latest question always stay. When turns must go, enough go
        to leave half of the room free, and the next questions start from the same turn
        until the room is used up again, so they keep reusing the evaluated prefix instead of
        re-reading the conversation every turn. A question that does not fit even alone is
        refused with a clear message.
        """
        context = self._require().n_ctx()
        reserve = min(settings.max_tokens, context // 2)
        budget = context - reserve
        system = [m for m in messages[:1] if m["role"] == "system"]
        older, latest = list(messages[len(system) : -1]), list(messages[-1:])
        # Where the last window started, if this is the same conversation: starting there again
        # keeps the prompt's prefix identical, so llama.cpp's cache still holds it.
        start = next(
            (i for i, m in enumerate(older) if (m["role"], m["content"]) == self._window_anchor),
            0,
        )
        older = older[start:]
        tokens, rendered = self._prompt_tokens(system + older + latest)
        if len(tokens) > budget:
            target = budget // 2
            while older and len(tokens) > target:
                del older[: 2 if len(older) > 1 else 1]  # a question and its answer
                tokens, rendered = self._prompt_tokens(system + older + latest)
        if len(tokens) > budget:
            raise PromptTooLongError(
                f"This question is {len(tokens):,} tokens long with the system prompt; the "
                f"model's context holds {context:,} tokens and {reserve:,} are kept for the "
                "answer.",
                "Shorten the question, lower the answer length, or raise the context length "
                "in Settings.",
            )
        dropped_any = len(system) + len(older) + len(latest) < len(messages)
        self._window_anchor = (
            (older[0]["role"], older[0]["content"]) if dropped_any and older else None
        )
        return system + older + latest, tokens, rendered

    def _generate(
        self,
        llama: llama_cpp.Llama,
        tokens: list[int],
        cached: int,
        max_tokens: int,
        settings: GenerationSettings,
        stops: list[str],
        dropped: int,
        cancel: CancelToken | None,
        grammar: llama_cpp.LlamaGrammar | None = None,
    ) -> Iterator[str]:
        cancel = cancel or CancelToken()
        seed = settings.seed if settings.seed >= 0 else random.randrange(2**31)
        llama.set_seed(seed)
        vocab = llama._model.vocab
        outcome = StreamOutcome()
        started = time.perf_counter()
        generator = llama.generate(
            tokens,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            temp=settings.temperature,
            repeat_penalty=settings.repeat_penalty,
            grammar=grammar,
        )
        try:
            yield from text_stream(
                generator,
                lambda token: llama.detokenize([token]),
                lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token)),
                stops,
                max_tokens,
                cancel,
                outcome,
            )
        except (RuntimeError, ValueError) as exc:
            raise GenerationError(f"llama.cpp failed while answering: {exc}") from exc
        finally:
            generator.close()
            ended = time.perf_counter()
            self.last_stats = GenerationStats(
                prompt_tokens=len(tokens),
                evaluated_prompt_tokens=len(tokens) - cached,
                generated_tokens=outcome.generated_tokens,
                time_to_first_token=(outcome.first_token_at or ended) - started,
                total_seconds=ended - started,
                finish_reason=outcome.finish_reason,
                dropped_messages=dropped,
            )

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many leading prompt tokens llama.cpp will take from its cache."""
        llama = self._require()
        evaluated = llama.input_ids[: llama.n_tokens]
        common = 0
        for old, new in zip(evaluated, tokens, strict=False):
            if old != new:
                break
            common += 1
        # llama-cpp-python re-evaluates at least the last prompt token to get fresh logits.
        return min(common, len(tokens) - 1)

    # -- helpers ---------------------------------------------------------------------------

    def _require(self) -> llama_cpp.Llama:
        if self._llama is None:
            raise GenerationError("No model is loaded.", "Load a model first.")
        self._check_thread()
        return self._llama

    def _check_thread(self) -> None:
        if self._owner is not None and self._owner != threading.get_ident():
            raise RuntimeError("ChatEngine used from a thread other than the one that loaded it")

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        assert self._llama is not None
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="replace")
