"""Scoring instead of sampling: how likely a model finds an answer after its prompt.

:class:`TokenScorer` evaluates (prompt, answer) token pairs in one llama.cpp context of its own,
several pairs per ``llama_decode`` (each its own sequence, packed until the batch is full, a long
one carried over several steps), asking logits only at the positions that predict an answer
token. The score of a pair is the mean log-probability per answer token (natural log): the
data-generation teacher's confidence in an answer, comparable between answers of any length.

llama-cpp-python's ``Llama`` keeps the logits of every position of one sequence
(``logits_all``), which costs a full vocabulary row per prompt token too; this asks only what
it needs, on the C API the batched decoder already uses.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import llama_cpp
import numpy as np

from conversion.cpu_threads import ThreadWatch, choose_threads, lower_this_threads_priority
from conversion.decoding.batch import TokenBatch
from conversion.decoding.model import GgufModel
from conversion.errors import GenerationError, ModelLoadError
from conversion.progress import NEVER_CANCELLED, CancelToken

BATCH_TOKENS = 512
POOL_TOKENS = 4096  # cache cells shared by the pairs in flight


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p over the last axis, in float64 (rows of logits → rows of log-probabilities)."""
    x = logits.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@dataclass
class _Pair:
    index: int
    tokens: list[int]  # prompt + answer, fitted to the context
    first_answer: int  # position of the first answer token in ``tokens``
    fed: int = 0
    total: float = 0.0
    count: int = 0


class TokenScorer:
    """Mean answer-token log-probabilities from ``model``, ``sequences`` pairs per step."""

    def __init__(
        self,
        model: GgufModel,
        *,
        context: int = 2048,
        sequences: int = 8,
        threads: int | None = None,
        batch_tokens: int = BATCH_TOKENS,
        pool: int = POOL_TOKENS,
        background: bool = False,
    ) -> None:
        """``threads``: llama.cpp's CPU threads; by default the cores idle now (scoring a
        dataset is a long job, like generating it: ``conversion/cpu_threads``), then as many as
        the machine's load leaves free while it scores. ``background``: score on a thread of
        lower CPU priority, so that a chat answered in the same process (the window's) keeps
        its pace."""
        self.model = model
        self.threads = choose_threads(threads or 0)
        # One watch for the scorer's life: it knows the threads the context has now.
        self._watch = ThreadWatch(self.threads.threads) if self.threads.automatic else None
        self.background = background
        self.context = min(context, model.trained_context or context)
        self.sequences = max(1, min(sequences, int(llama_cpp.llama_max_parallel_sequences())))
        params = llama_cpp.llama_context_default_params()
        # One pool of cells for every sequence (kv_unified): the pairs in flight together hold
        # at most ``pool`` tokens, so a large model's cache stays small whatever ``sequences``.
        params.n_ctx = max(self.context, min(self.context * self.sequences, pool))
        params.n_batch = params.n_ubatch = min(batch_tokens, params.n_ctx)
        params.n_seq_max = self.sequences
        params.kv_unified = True  # as the decoder: one pool of cells, any sequences per pass
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
        params.n_threads = params.n_threads_batch = self.threads.threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model.handle, params)
        if not self.ctx:
            raise ModelLoadError(
                f"llama.cpp could not make a scoring context for “{model.path.name}”.",
                "Close other models to free memory, and try again.",
            )
        self.pool = int(llama_cpp.llama_n_ctx(self.ctx))
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        # llama.cpp keeps a batch within the context: ask it what it kept (a larger batch aborts).
        self.batch = TokenBatch(int(llama_cpp.llama_n_batch(self.ctx)), 1)

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def __enter__(self) -> TokenScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mean_logprobs(
        self,
        pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
        cancel: CancelToken = NEVER_CANCELLED,
        on_scored: Callable[[int, float | None], None] | None = None,
    ) -> list[float | None]:
        """Per (prompt tokens, answer tokens): the answer's mean log-probability per token
        (None for an empty answer). A pair longer than the context loses the start of its
        prompt (and then of its answer). ``on_scored(index, score)`` as each pair ends (on
        the scoring thread)."""
        if not self.background:
            return self._score(pairs, cancel, on_scored)
        outcome: list[list[float | None]] = []
        failure: list[BaseException] = []

        def score() -> None:
            lower_this_threads_priority()
            try:
                outcome.append(self._score(pairs, cancel, on_scored))
            except BaseException as exc:  # raised again on the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=score, name="huacaya-scorer", daemon=True)
        worker.start()
        worker.join()
        if failure:
            raise failure[0]
        return outcome[0]

    def _score(
        self,
        pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
        cancel: CancelToken,
        on_scored: Callable[[int, float | None], None] | None,
    ) -> list[float | None]:
        results: list[float | None] = [None] * len(pairs)
        waiting: deque[_Pair] = deque()
        for index, (prompt, answer) in enumerate(pairs):
            if not answer:
                if on_scored is not None:
                    on_scored(index, None)
                continue
            tokens = [*prompt, *answer][-min(self.context, self.pool) :]
            first = max(1, len(tokens) - len(answer))  # the first token has nothing before it
            waiting.append(_Pair(index, tokens, first))
        active: dict[int, _Pair] = {}
        try:
            while waiting or active:
                cancel.check()
                self._admit(active, waiting)
                wanted = self._fill(active)
                code = llama_cpp.llama_decode(self.ctx, self.batch.as_llama_batch())
                if code != 0:
                    raise GenerationError(f"llama.cpp failed while scoring (error {code}).")
                self._read(wanted)
                threads = self._watch.check() if self._watch is not None else None
                if threads is not None:  # the machine's load changed
                    llama_cpp.llama_set_n_threads(self.ctx, threads, threads)
                for slot, pair in list(active.items()):
                    if pair.fed == len(pair.tokens):
                        llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
                        del active[slot]
                        results[pair.index] = pair.total / pair.count
                        if on_scored is not None:
                            on_scored(pair.index, results[pair.index])
        finally:  # cancelled or failed: the next call starts from empty cells
            for slot in active:
                llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
        return results

    def _admit(self, active: dict[int, _Pair], waiting: deque[_Pair]) -> None:
        """Waiting pairs into free slots, while their tokens fit in the pool of cells."""
        held = sum(len(pair.tokens) for pair in active.values())
        for slot in range(self.sequences):
            if slot not in active and waiting and held + len(waiting[0].tokens) <= self.pool:
                held += len(waiting[0].tokens)
                active[slot] = waiting.popleft()

    def _fill(self, active: dict[int, _Pair]) -> list[tuple[int, _Pair, int]]:
        """Put the next tokens of the active pairs into the batch; (batch index, pair, token
        it predicts) for every position whose logits are needed."""
        batch = self.batch
        batch.clear()
        wanted: list[tuple[int, _Pair, int]] = []
        for slot, pair in active.items():
            take = min(len(pair.tokens) - pair.fed, batch.room)
            if take <= 0:
                break
            last = batch.add(pair.tokens[pair.fed : pair.fed + take], pair.fed, [slot], False)
            begin = last - take + 1
            for offset in range(take):
                position = pair.fed + offset
                if pair.first_answer - 1 <= position < len(pair.tokens) - 1:
                    batch.logits[begin + offset] = 1
                    wanted.append((begin + offset, pair, pair.tokens[position + 1]))
            pair.fed += take
        return wanted

    def _read(self, wanted: list[tuple[int, _Pair, int]]) -> None:
        n_vocab = self.model.n_vocab
        for index, pair, target in wanted:
            pointer = llama_cpp.llama_get_logits_ith(self.ctx, index)
            row = np.ctypeslib.as_array(
                ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), (n_vocab,)
            )
            x = row.astype(np.float64)
            top = x.max()
            pair.total += float(x[target] - top - np.log(np.exp(x - top).sum()))
            pair.count += 1
