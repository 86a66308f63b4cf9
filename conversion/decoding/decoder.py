"""BatchDecoder: many sequences decoded together in one llama.cpp context (continuous batching).

On a CPU, decoding one token costs about as much as reading every weight once; a batch of tokens
from N sequences reads them once for all N. So one context holds ``slots`` sequences (each its
own sequence id, ``slots × context`` cells of KV cache, each sequence up to ``context``
tokens), and one scheduler thread owns it: every step it drops sequences whose reader
left or whose token was cancelled, admits waiting ones into free slots, evaluates one batch (the
next token of every answering sequence, then chunks of new prompts) and samples each
sequence's next token with its own sampler chain. Sequences join and leave between steps.

What callers see (any thread): :meth:`BatchDecoder.submit` → a :class:`DecodeStream` to iterate.

Prompt caching: a slot keeps what it last evaluated. A new sequence goes to the free slot whose
cache shares the longest prefix with its prompt, and takes a longer shared prefix from any other
slot's cache when there is one (``llama_memory_seq_cp``: the cells are shared, not copied).
Prompts that start together evaluate what they have in common once (tokens that belong to
several sequences), e.g. the same system prompt or data generation's instructions.

A sequence whose prompt does not fit, or whose evaluation fails, ends alone with an error; the
others go on. llama-cpp-python's ``Llama`` decodes one sequence; this is our own scheduler on
llama.cpp's C API, learning from llama.cpp's server (slots, prompt cache, chunked prompts).
"""

from __future__ import annotations

import weakref

import llama_cpp

from conversion.cpu_threads import ThreadWatch
from conversion.decoding.model import GgufModel
from conversion.decoding.scheduler import Scheduler
from conversion.decoding.stream import DecodeJob, DecodeStream
from conversion.errors import ModelLoadError

BATCH_TOKENS = 512  # tokens evaluated per step at most (as llama-cpp-python's default n_batch)


def cells_and_attention(params: llama_cpp.llama_context_params, on_cpu: bool) -> bool:
    """Set how a context for ``slots`` sequences holds their KV cells and computes attention;
    True where each sequence has cells of its own.

    On the CPU each sequence gets cells of its own (a stream) and attention is two matrix
    products: with the starter on 2 cores, one answer at 700 tokens of context decodes at 47
    tokens/s this way against 31 with llama.cpp's flash attention, and 5 together at 75
    against 34 in one shared pool. A sequence's cells then lie where they would alone, so
    identical sequences side by side get the same logits, as they do alone. Separate cells
    cannot be shared, so prompts with a common start copy it (the scheduler's followers)
    rather than evaluate it once for several sequences, and llama.cpp evaluates them at once
    only for sequences whose ids follow one another in the batch (the scheduler keeps busy
    slots together and lists them in order). With layers on a GPU: one pool of cells
    for every sequence (any set of them is one pass; a shared prefix held once) and llama.cpp's
    default, flash attention, which in one pool keeps identical sequences bit for bit equal.
    """
    params.kv_unified = not on_cpu
    params.flash_attn_type = (
        llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED if on_cpu else llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
    )
    return on_cpu


class BatchDecoder:
    """One llama.cpp context decoding up to ``slots`` sequences of up to ``context`` tokens."""

    def __init__(
        self,
        model: GgufModel,
        *,
        context: int,
        slots: int = 1,
        threads: int = 1,
        batch_tokens: int = BATCH_TOKENS,
        name: str = "huacaya-decoder",
        background: bool = False,
        follow_load: bool = False,
    ) -> None:
        """``background``: decode at a lower CPU priority than the rest of the process (where
        the system allows it), so that another engine in the foreground keeps its speed.
        ``follow_load``: ``threads`` were the cores idle when the job started, and change with
        the machine's load while it runs (``conversion/cpu_threads.ThreadWatch``)."""
        slots = max(1, min(slots, int(llama_cpp.llama_max_parallel_sequences())))
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context * slots
        # Room for every slot's next token in one step, however small the context.
        params.n_batch = params.n_ubatch = max(slots, min(batch_tokens, context))
        params.n_seq_max = slots
        params.n_threads = params.n_threads_batch = threads
        separate = cells_and_attention(params, model.on_cpu)
        params.no_perf = True
        handle = llama_cpp.llama_init_from_model(model.handle, params)
        if not handle:
            raise ModelLoadError(
                f"llama.cpp could not make room for {slots} × {context:,} tokens of context "
                f"for “{model.path.name}”.",
                "Lower the context length or the number of answers at once.",
            )
        per_sequence = int(llama_cpp.llama_n_ctx(handle)) // slots
        self.context_length = per_sequence
        self.slots = slots
        watch = ThreadWatch(threads) if follow_load else None
        self._scheduler = Scheduler(
            model, handle, per_sequence, slots, params.n_batch, name, background, separate, watch
        )
        self._finalizer = weakref.finalize(self, self._scheduler.shutdown)

    def submit(self, job: DecodeJob) -> DecodeStream:
        """Queue ``job``; its text arrives through the returned stream (any thread may iterate
        it). Raises GenerationError once the decoder is closed."""
        return self._scheduler.submit([job])[0]

    def submit_all(self, jobs: list[DecodeJob]) -> list[DecodeStream]:
        """Queue ``jobs`` at once: as many as there are free slots start in the same step, and
        what their prompts have in common is evaluated once for all of them."""
        return self._scheduler.submit(jobs)

    def forget_cache(self) -> None:
        """Evaluate every later prompt from scratch (sequences running now keep their cache
        until they end)."""
        self._scheduler.forget()

    def close(self) -> None:
        """End every sequence (as cancelled), free the context and stop the thread; idempotent.
        The model is the caller's to free afterwards."""
        self._finalizer()
        self._scheduler.join()
