"""A cross-encoder reranker in llama.cpp: reads the question and a passage together and gives
one relevance score, which finds paraphrases an embedding (question and passage each squeezed
into a vector alone) misses. Slower than vectors, so it only reorders the fused top 50.

The GGUF is made by our converter from a ``BertForSequenceClassification`` checkpoint
(conversion/archs/bert.py) and run with rank pooling: the score is the sequence's "embedding".

Why the inputs are embeddings, not token ids: BERT marks the passage's tokens with token type 1
(the question's are 0), and llama.cpp gives every token type 0. So the pair's input vectors are
built here, as BERT's embedding layer does before its position embeddings and LayerNorm: the
token's row of ``token_embd`` plus the difference between its type's row and row 0 of
``token_types`` (llama.cpp adds row 0 itself); llama.cpp does the rest. Scores then match
transformers' logits (tests/documents/test_reranker.py).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gguf
import llama_cpp
import numpy as np

from conversion import llama_log
from conversion.errors import ModelLoadError
from desktop.core import hardware

MAX_TOKENS = 512
MAX_QUERY_TOKENS = 64  # a longer question is cut; the passage gets the rest


def _embedding_rows(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``token_embd`` and ``token_types`` of a GGUF we converted, as float32."""
    found: dict[str, np.ndarray] = {}
    for tensor in gguf.GGUFReader(path).tensors:
        if tensor.name in ("token_embd.weight", "token_types.weight"):
            data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            rows = int(tensor.shape[-1]) if len(tensor.shape) > 1 else 1
            found[tensor.name] = np.asarray(data, dtype=np.float32).reshape(rows, -1)
    if "token_embd.weight" not in found:
        raise ModelLoadError(f"“{path.name}” has no token embeddings; it is not a reranker.")
    return found["token_embd.weight"], found.get("token_types.weight")


class Reranker:
    """``threads`` copies of the model (one CPU thread each) score passages side by side."""

    def __init__(self, path: Path, name: str = "", threads: int = 0) -> None:
        self.path = path
        self.name = name or path.stem
        self._tokens, types = _embedding_rows(path)
        self._type_shift = (types[1] - types[0]) if types is not None and len(types) > 1 else None
        count = max(threads or hardware.physical_cores(), 1)
        self._copies = [self._load(path) for _ in range(count)]
        first = self._copies[0]
        if first.pooling_type() != llama_cpp.LLAMA_POOLING_TYPE_RANK:
            self.close()
            raise ModelLoadError(f"“{path.name}” is not a reranker (no rank pooling).")
        self.max_tokens = min(first._model.n_ctx_train(), MAX_TOKENS)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="rerank") if count > 1 else None

    @classmethod
    def load(cls, path: Path, threads: int = 0) -> Reranker:
        """A GGUF, or a checkpoint folder converted to one beside it first."""
        if path.is_dir():
            from conversion.convert import convert

            target = path / "reranker-f16.gguf"
            if not target.is_file():
                convert(path, target, "f16")
            path = target
        return cls(path, threads=threads)

    @staticmethod
    def _load(path: Path) -> llama_cpp.Llama:
        return llama_log.load_encoder(path, f"the reranker “{path}”", MAX_TOKENS)

    def _pair(self, llama: llama_cpp.Llama, query: str, passage: str) -> tuple[list[int], int]:
        """[CLS] query [SEP] passage [SEP] as token ids, and where the passage begins."""
        first = llama.tokenize(query.encode("utf-8"), add_bos=True, special=False)
        if len(first) > MAX_QUERY_TOKENS:
            first = [*first[: MAX_QUERY_TOKENS - 1], first[-1]]
        second = llama.tokenize(passage.encode("utf-8"), add_bos=True, special=False)[1:]
        room = self.max_tokens - len(first)
        if len(second) > room:
            second = [*second[: room - 1], second[-1]]
        return first + second, len(first)

    def _score(self, llama: llama_cpp.Llama, query: str, passage: str) -> float:
        tokens, split = self._pair(llama, query, passage)
        inputs = self._tokens[tokens]
        if self._type_shift is not None:
            inputs[split:] += self._type_shift
        count, width = inputs.shape
        batch = llama_cpp.llama_batch_init(count, width, 1)
        try:
            batch.n_tokens = count
            ctypes.memmove(batch.embd, np.ascontiguousarray(inputs, np.float32).ctypes.data,
                           inputs.size * 4)  # fmt: skip
            for i in range(count):
                batch.pos[i] = i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            context = llama._ctx.ctx
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(context), True)
            if llama_cpp.llama_decode(context, batch) != 0:
                raise ModelLoadError("llama.cpp could not run the reranker.")
            return float(llama_cpp.llama_get_embeddings_seq(context, 0)[0])
        finally:
            llama_cpp.llama_batch_free(batch)

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """The relevance of each passage to ``query`` (the model's logit: higher is better)."""
        if not passages:
            return []
        with self._lock:
            if self._pool is None or len(passages) == 1:
                return [self._score(self._copies[0], query, p) for p in passages]
            order = iter(range(len(passages)))
            taking = threading.Lock()
            scores = [0.0] * len(passages)

            def work(llama: llama_cpp.Llama) -> None:
                while True:
                    with taking:
                        index = next(order, None)
                    if index is None:
                        return
                    scores[index] = self._score(llama, query, passages[index])

            for done in [self._pool.submit(work, llama) for llama in self._copies]:
                done.result()
            return scores

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for llama in self._copies:
            llama.close()
        self._copies = []
