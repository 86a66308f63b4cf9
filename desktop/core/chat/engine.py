"""ChatEngine: one GGUF model in llama.cpp, answering a conversation as a stream of text.

A ``Llama`` object is not thread-safe, so an engine belongs to the thread that loaded it and
refuses calls from any other. Each request carries its own :class:`CancelToken`, created with
the request: cancelling it from any thread — even before the first token — ends the stream
before the next token and leaves the model ready for the next question. Follow-up questions
reuse the evaluated prefix of the conversation (llama.cpp's KV cache).

An answer is asked for with an :class:`AnswerRequest` (which carries its prompt format, stop
strings and the conversation's window anchor) and comes back as a :class:`Response`: its text
deltas, then its stats. The engine holds no per-answer state between requests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF

from conversion import llama_log
from conversion.errors import GenerationError, PromptTooLongError
from conversion.gguf_file import read_gguf_info
from conversion.gguf_info import GGUFInfo
from conversion.progress import CancelToken
from desktop.core import hardware
from desktop.core.chat.context_window import Fitted, fit_to_context
from desktop.core.chat.prompts import (
    PROBE_CONVERSATION,
    AlpacaFormat,
    ChatMLFormat,
    Llama3Format,
    Message,
    PromptFormat,
    RenderedPrompt,
    choose_format,
    template_problem,
)
from desktop.core.chat.response import AnswerRequest, GenerationStats, Response
from desktop.core.chat.text_stream import StreamOutcome, text_stream
from desktop.core.models.probe import PROBE_CONTEXT, ProbeVerdict, probe_model
from desktop.core.settings import GenerationSettings

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
class _Decode:
    """One answer's decoding, as :meth:`ChatEngine.respond` prepared it."""

    tokens: list[int]  # the prompt
    max_tokens: int
    settings: GenerationSettings
    stops: list[str]
    request: AnswerRequest
    dropped: int  # messages left out of the prompt


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
        self._formats: dict[str, PromptFormat] = {}  # by name, made when first asked for
        self._format_args: tuple[str | None, str, str, bool] = (None, "", "", True)
        self._owner: int | None = None
        self.info: ModelInfo | None = None
        self.template_problem = ""  # why the model's own chat template is not used, if it isn't
        self.fallback_format = AlpacaFormat.name

    # -- lifecycle -------------------------------------------------------------------------

    def load(self, probe: bool = True) -> ModelInfo:
        """Check the file, load it into llama.cpp and pick the prompt format.

        A file opened for the first time is first opened in a child process
        (:mod:`desktop.core.models.probe`); ``probe=False`` is that child.
        Raises ModelFileError (missing, not GGUF, truncated, invalid) or ModelLoadError.
        """
        header = read_gguf_info(self.model_path)
        verdict = check_model(self.model_path, self.gpu_layers) if probe else None
        context = self._context_for(header)
        llama = llama_log.load(
            self.model_path,
            n_ctx=context,
            n_batch=min(512, context),
            n_threads=self.threads,
            n_threads_batch=self.threads,
            n_gpu_layers=self.gpu_layers,
        )
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
        self._formats = {}
        self.info = self._describe(header, llama.n_ctx())
        log.info(
            "loaded %s (%s, ctx %d, %d threads)",
            self.info.name,
            self.info.prompt_format,
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
        chosen = self.prompt_format(self.prompt_format_name)
        return ModelInfo(
            path=self.model_path,
            name=header.name,
            architecture=header.architecture,
            quantization=header.quantization,
            parameter_count=header.parameter_count,
            trained_context=header.context_length,
            context_length=context,
            has_chat_template=header.chat_template is not None,
            prompt_format=chosen.name,
            threads=self.threads,
            gpu_layers=self.gpu_layers,
            notice=(
                f"The model's chat template cannot be used ({self.template_problem}); "
                f"answering with the {chosen.label} format instead."
                if self.template_problem
                else ""
            ),
        )

    # -- prompts ---------------------------------------------------------------------------

    def prompt_format(self, name: str = "") -> PromptFormat:
        """The format called ``name`` for this model (``auto``: its own chat template, or the
        built-in format it suits when the template is unusable); "" is the engine's default."""
        if not self.loaded:
            raise GenerationError("No model is loaded.", "Load a model first.")
        name = self._format_name(name or self.prompt_format_name)
        if name not in self._formats:
            self._formats[name] = choose_format(name, *self._format_args)
        return self._formats[name]

    def render_prompt(self, messages: Sequence[Message], prompt_format: str = "") -> RenderedPrompt:
        return self.prompt_format(prompt_format).render(messages)

    def prompt_tokens(
        self, messages: Sequence[Message], prompt_format: str = ""
    ) -> tuple[list[int], RenderedPrompt]:
        """``messages`` rendered with the prompt format, and tokenized as the model reads them."""
        rendered = self.render_prompt(messages, prompt_format)
        tokens = self._require().tokenize(
            rendered.text.encode("utf-8"), add_bos=rendered.add_special, special=True
        )
        return tokens, rendered

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        llama = self._require()
        return llama.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)

    def fit(self, request: AnswerRequest) -> Fitted:
        """What of ``request``'s conversation the model is given (the oldest turns that do not
        fit left out, see :mod:`desktop.core.chat.context_window`)."""
        context = self._require().n_ctx()
        settings = request.settings.validated()
        return fit_to_context(
            request.messages,
            lambda messages: self.prompt_tokens(messages, request.prompt_format)[0],
            context,
            min(settings.max_tokens, context // 2),
            request.window_anchor,
        )

    # -- generation ------------------------------------------------------------------------

    def forget_cache(self) -> None:
        """Drop the evaluated prefix so the next prompt is evaluated from scratch."""
        self._require().reset()

    def respond(self, request: AnswerRequest) -> Response:
        """The answer to ``request``'s conversation, as a :class:`Response` to iterate.

        Cancelling the request's token (from any thread) or closing the response early ends
        generation; the model stays usable. Raises PromptTooLongError before anything is
        generated when even the latest question does not fit. A request whose reply the session
        already decided (documents: nothing found) gets that reply, without the model."""
        if request.reply:
            return Response.fixed(request.reply)
        llama = self._require()
        settings = request.settings.validated()
        fitted = self.fit(request)
        rendered = self.render_prompt(fitted.messages, request.prompt_format)
        stops = [*rendered.stop, *request.stop]
        max_tokens = min(settings.max_tokens, llama.n_ctx() - len(fitted.tokens))
        job = _Decode(fitted.tokens, max_tokens, settings, stops, request, fitted.dropped)
        response = Response(lambda r: self._generate(llama, job, r))
        response.window_anchor = fitted.anchor
        return response

    def stream(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        **request: object,
    ) -> Response:
        """:meth:`respond` to ``messages`` with ``settings``: a shorthand for benchmarks, probes
        and checks; ``request`` takes the other fields of :class:`AnswerRequest`."""
        return self.respond(
            AnswerRequest(
                list(messages),
                settings or GenerationSettings(),
                cancel=cancel or CancelToken(),
                **request,  # type: ignore[arg-type]
            )
        )

    def complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
        *,
        stop: Sequence[str] = (),
        json_mode: bool = False,
    ) -> Response:
        """Continue ``prompt`` as raw text (no chat template), like :meth:`respond` otherwise.

        A prompt that leaves no room for an answer is refused with PromptTooLongError.
        """
        llama = self._require()
        settings = (settings or GenerationSettings()).validated()
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        room = llama.n_ctx() - len(tokens)
        if room < 1:
            raise PromptTooLongError(
                f"This prompt is {len(tokens):,} tokens long; the model's context holds "
                f"{llama.n_ctx():,} tokens.",
                "Shorten the prompt, or raise the context length in Settings.",
            )
        request = AnswerRequest([], settings, cancel=cancel or CancelToken(), json_mode=json_mode)
        job = _Decode(tokens, min(settings.max_tokens, room), settings, list(stop), request, 0)
        return Response(lambda r: self._generate(llama, job, r))

    def _generate(self, llama: llama_cpp.Llama, job: _Decode, response: Response) -> Iterator[str]:
        cancel, settings = job.request.cancel, job.settings
        cached = self._cached_prefix(job.tokens)
        seed = settings.seed if settings.seed >= 0 else random.randrange(2**31)
        llama.set_seed(seed)
        vocab = llama._model.vocab
        outcome = StreamOutcome()
        started = time.perf_counter()
        # A fresh grammar for each answer: its parse state belongs to that answer.
        grammar = (
            llama_cpp.LlamaGrammar.from_string(JSON_GBNF, verbose=False)
            if job.request.json_mode
            else None
        )
        generator = llama.generate(
            job.tokens,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            temp=settings.temperature,
            repeat_penalty=settings.repeat_penalty,
            grammar=grammar,
        )
        try:
            self._evaluate_prompt(llama, job.tokens, cancel)
            yield from text_stream(
                generator,
                lambda token: llama.detokenize([token]),
                lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token)),
                job.stops,
                job.max_tokens,
                cancel,
                outcome,
            )
        except (RuntimeError, ValueError) as exc:
            raise GenerationError(f"llama.cpp failed while answering: {exc}") from exc
        finally:
            generator.close()
            ended = time.perf_counter()
            response.stats = GenerationStats(
                prompt_tokens=len(job.tokens),
                evaluated_prompt_tokens=len(job.tokens) - cached,
                generated_tokens=outcome.generated_tokens,
                time_to_first_token=(outcome.first_token_at or ended) - started,
                total_seconds=ended - started,
                finish_reason=outcome.finish_reason,
                dropped_messages=job.dropped,
            )

    @staticmethod
    def _evaluate_prompt(llama: llama_cpp.Llama, tokens: list[int], cancel: CancelToken) -> None:
        """Evaluate the prompt but its last token one batch at a time, stopping at a cancel.

        llama-cpp-python's ``generate`` evaluates the whole prompt in one call that nothing
        interrupts: a few thousand tokens take seconds on the starter and minutes on a 7B model
        on a CPU, so a client that left (or Ctrl+C on ``serve``) waited for all of them.
        ``generate`` then finds them in its cache and evaluates the last token itself (for fresh
        logits). What the cache already holds is kept; where it cannot be cut (a recurrent
        model), ``generate`` is left to evaluate it all as before."""
        last = len(tokens) - 1
        cached = 0
        for old, new in zip(llama.input_ids[: llama.n_tokens], tokens[:last], strict=False):
            if old != new:
                break
            cached += 1
        if cached < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(-1, cached, -1):
            return
        llama.n_tokens = cached
        for start in range(cached, last, llama.n_batch):
            if cancel.cancelled:
                return
            llama.eval(tokens[start : min(start + llama.n_batch, last)])

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


def check_model(path: Path, gpu_layers: int = 0, cancel: CancelToken | None = None) -> ProbeVerdict:
    """Whether ``path`` opens and answers in llama.cpp, found out in a child process the first
    time (see :mod:`desktop.core.models.probe`), so a file that crashes llama.cpp costs a
    message, not the app."""
    return probe_model(path, _answer_probe, gpu_layers, cancel)


def _answer_probe(path: str, gpu_layers: int) -> tuple[str, str]:
    """In the probe's child: the path of every answer — load, render, tokenize (special tokens
    too), evaluate, sample, decode — on a two-token answer to the probe conversation."""
    engine = ChatEngine(path, context_length=PROBE_CONTEXT, threads=1, gpu_layers=gpu_layers)
    engine.load(probe=False)
    engine.stream(PROBE_CONVERSATION, GenerationSettings(temperature=0.0, max_tokens=2)).text()
    return engine.template_problem, engine.fallback_format
