"""ChatEngine: one GGUF model in llama.cpp, answering conversations as streams of text.

The engine decodes through a :class:`~conversion.decoding.decoder.BatchDecoder`: one llama.cpp
context with ``slots`` sequences, owned by the decoder's own thread, which is the only thread
that ever touches it. So an engine may be used from any thread, by several at once: each
:meth:`respond` returns a :class:`Response` that its caller iterates on its own thread, while up
to ``slots`` answers are decoded together (one for the window and the terminal, several for the
local API). Each request carries its own :class:`CancelToken`, created with the request:
cancelling it from any thread — even before the first token — ends that answer before its next
token and leaves the others and the model as they were. Follow-up questions reuse the evaluated
prefix of the conversation (llama.cpp's KV cache).

An answer is asked for with an :class:`AnswerRequest` (which carries its prompt format, stop
strings and the conversation's window anchor) and comes back as a :class:`Response`: its text
deltas, then its stats. The engine holds no per-answer state between requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from conversion.decoding.decoder import BatchDecoder
from conversion.decoding.model import GgufModel
from conversion.decoding.sampler import SamplerSettings
from conversion.decoding.stream import DecodeJob
from conversion.errors import GenerationError, PromptTooLongError
from conversion.gguf_file import read_gguf_info
from conversion.gguf_info import GGUFInfo
from conversion.progress import CancelToken
from desktop.core import hardware
from desktop.core.chat.context_meter import ContextUse, Draft
from desktop.core.chat.context_meter import measure as measure_draft
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
    slots: int = 1  # answers decoded together
    notice: str = ""  # something the user should know, e.g. the chat template was not usable


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
        slots: int = 1,
        background: bool = False,
    ) -> None:
        """``context_length``: tokens per answer; ``slots``: answers decoded together (each
        with its own cache of ``context_length`` tokens); ``background``: decode at a lower
        CPU priority (the window's local API, beside the window's own answers)."""
        self.model_path = Path(model_path)
        self.requested_context = context_length
        self.threads = threads if threads > 0 else hardware.default_threads()
        self.gpu_layers = gpu_layers if gpu_layers >= 0 else hardware.default_gpu_layers()
        self.prompt_format_name = prompt_format
        self.slots = max(1, slots)
        self.background = background
        self._model: GgufModel | None = None
        self._decoder: BatchDecoder | None = None
        self._formats: dict[str, PromptFormat] = {}  # by name, made when first asked for
        self._formats_lock = threading.Lock()
        self._format_args: tuple[str | None, str, str, bool] = (None, "", "", True)
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
        self.close()  # a model loaded before
        header = read_gguf_info(self.model_path)
        verdict = check_model(self.model_path, self.gpu_layers, header=header) if probe else None
        context = self._context_for(header)
        model = GgufModel.load(self.model_path, gpu_layers=self.gpu_layers)
        try:
            decoder = BatchDecoder(
                model,
                context=context,
                slots=self.slots,
                threads=self.threads,
                background=self.background,
            )
        except BaseException:
            model.close()
            raise
        self._model, self._decoder = model, decoder
        bos, eos = model.token_text(model.bos), model.token_text(model.eos)
        adds_bos = model.adds_bos
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
        self.info = self._describe(header, decoder.context_length)
        log.info(
            "loaded %s (%s, ctx %d, %d threads, %d at once)",
            self.info.name,
            self.info.prompt_format,
            self.info.context_length,
            self.threads,
            self.slots,
        )
        return self.info

    def close(self) -> None:
        """Free the model (idempotent); answers in progress end as if cancelled."""
        decoder, model = self._decoder, self._model
        self._decoder = self._model = None
        if decoder is not None:
            decoder.close()
        if model is not None:
            model.close()

    @property
    def loaded(self) -> bool:
        return self._decoder is not None

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
            slots=self.slots,
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
        with self._formats_lock:
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
        tokens = self._require()[0].tokenize(rendered.text, rendered.add_special)
        return tokens, rendered

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        return self._require()[0].tokenize(text, add_special)

    def fit(self, request: AnswerRequest) -> Fitted:
        """What of ``request``'s conversation the model is given (the oldest turns that do not
        fit left out, see :mod:`desktop.core.chat.context_window`)."""
        context = self._require()[1].context_length
        settings = request.settings.validated()
        return fit_to_context(
            request.messages,
            lambda messages: self.prompt_tokens(messages, request.prompt_format)[0],
            context,
            min(settings.max_tokens, context // 2),
            request.window_anchor,
        )

    def measure(self, draft: Draft) -> ContextUse:
        """How the question being typed would fit the context (the context meter)."""
        context = self._require()[1].context_length
        return measure_draft(
            draft, lambda messages: self.prompt_tokens(messages, draft.prompt_format)[0], context
        )

    # -- generation ------------------------------------------------------------------------

    def forget_cache(self) -> None:
        """Drop the evaluated prefixes so the next prompts are evaluated from scratch."""
        self._require()[1].forget_cache()

    def respond(self, request: AnswerRequest) -> Response:
        """The answer to ``request``'s conversation, as a :class:`Response` to iterate (on any
        thread; decoding starts when it is first iterated).

        Cancelling the request's token (from any thread) or closing the response early ends
        generation; the model stays usable. Raises PromptTooLongError before anything is
        generated when even the latest question does not fit. A request whose reply the session
        already decided (documents: nothing found) gets that reply, without the model."""
        if request.reply:
            return Response.fixed(request.reply)
        _, decoder = self._require()
        settings = request.settings.validated()
        fitted = self.fit(request)
        rendered = self.render_prompt(fitted.messages, request.prompt_format)
        stops = (*rendered.stop, *request.stop)
        max_tokens = min(settings.max_tokens, decoder.context_length - len(fitted.tokens))
        job = self._job(fitted.tokens, settings, max_tokens, stops, request)
        response = Response(lambda r: self._generate(decoder, job, fitted.dropped, r))
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
        model, decoder = self._require()
        settings = (settings or GenerationSettings()).validated()
        tokens = model.tokenize(prompt, add_special=True, special=False)
        if not tokens:  # an empty prompt, and a model without a start token to begin from
            raise GenerationError("The prompt is empty: there is nothing to continue.")
        context = decoder.context_length
        room = context - len(tokens)
        if room < 1:
            raise PromptTooLongError(
                f"This prompt is {len(tokens):,} tokens long; the model's context holds "
                f"{context:,} tokens.",
                "Shorten the prompt, or raise the context length in Settings.",
            )
        request = AnswerRequest([], settings, cancel=cancel or CancelToken(), json_mode=json_mode)
        job = self._job(tokens, settings, min(settings.max_tokens, room), tuple(stop), request)
        return Response(lambda r: self._generate(decoder, job, 0, r))

    @staticmethod
    def _job(
        tokens: list[int],
        settings: GenerationSettings,
        max_tokens: int,
        stops: tuple[str, ...],
        request: AnswerRequest,
    ) -> DecodeJob:
        sampler = SamplerSettings(
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
            json=request.json_mode,
        )
        return DecodeJob(tokens, sampler, max_tokens, stops, request.cancel)

    @staticmethod
    def _generate(
        decoder: BatchDecoder, job: DecodeJob, dropped: int, response: Response
    ) -> Iterator[str]:
        stream = decoder.submit(job)
        try:
            yield from stream
        finally:
            stream.close()  # a no-op once it ended
            result = stream.result
            assert result is not None
            response.stats = GenerationStats(
                prompt_tokens=result.prompt_tokens,
                evaluated_prompt_tokens=result.prompt_tokens - result.cached_tokens,
                generated_tokens=result.generated_tokens,
                time_to_first_token=result.time_to_first_token,
                total_seconds=result.total_seconds,
                finish_reason=result.finish_reason,
                dropped_messages=dropped,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _require(self) -> tuple[GgufModel, BatchDecoder]:
        model, decoder = self._model, self._decoder
        if model is None or decoder is None:
            raise GenerationError("No model is loaded.", "Load a model first.")
        return model, decoder


def check_model(
    path: Path,
    gpu_layers: int = 0,
    cancel: CancelToken | None = None,
    header: GGUFInfo | None = None,
) -> ProbeVerdict:
    """Whether ``path`` opens and answers in llama.cpp, found out in a child process the first
    time (see :mod:`desktop.core.models.probe`), so a file that crashes llama.cpp costs a
    message, not the app. ``header``: what :func:`read_gguf_info` just read of the file."""
    return probe_model(path, _answer_probe, gpu_layers, cancel, header=header)


def _answer_probe(path: str, gpu_layers: int) -> tuple[str, str]:
    """In the probe's child: the path of every answer — load, render, tokenize (special tokens
    too), evaluate, sample, decode — on a two-token answer to the probe conversation."""
    engine = ChatEngine(path, context_length=PROBE_CONTEXT, threads=1, gpu_layers=gpu_layers)
    engine.load(probe=False)
    engine.stream(PROBE_CONVERSATION, GenerationSettings(temperature=0.0, max_tokens=2)).text()
    return engine.template_problem, engine.fallback_format
