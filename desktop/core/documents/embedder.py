"""Text → unit-length vectors with a GGUF embedding model in llama.cpp.

The default is the app's own all-MiniLM-L6-v2 (``embedding_model.py``); any GGUF embedding
model (a BERT-family model converted from the Hub, nomic-embed, bge, …) can be used instead.
A lock makes one embedder safe to share between the indexer and searches. A cancel token is
checked before each text, so a request for thousands of texts (the local API's embeddings)
stops within one text of being cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import llama_cpp
import numpy as np

from conversion import llama_log
from conversion.progress import NEVER_CANCELLED, CancelToken
from desktop.core import hardware
from desktop.core.models.embedding_model import EmbeddingModel, ensure_embedding_model

MAX_TOKENS = 512  # the longest text one sequence may hold


class Embedder:
    """``threads`` copies of the model (by default one per physical core), one CPU thread
    each, embed texts side by side.

    Measured on 2 cores (benchmarks/documents.py): flash attention makes the model 2.5× faster
    and bf16 weights (where the CPU has AVX512-BF16) 1.4× faster again; one sequence per
    llama.cpp call is faster than several (the batch attends over itself); one thread per copy
    beats one copy with several threads, which wait for each other at every operation of a
    model this small (badly so when other programs share the CPU).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_tokens: int = 0,
        name: str = "",
        threads: int = 0,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        count = max(threads or hardware.physical_cores(), 1)
        self._copies = [self._load(path) for _ in range(count)]
        first = self._copies[0]
        trained = first._model.n_ctx_train()
        self.max_tokens = min(max_tokens or trained, trained, MAX_TOKENS)
        self.dimensions = first.n_embd()
        self.name = name or path.stem
        self.path = path
        self.query_prefix, self.document_prefix = query_prefix, document_prefix
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="embed") if count > 1 else None

    @staticmethod
    def _load(path: Path) -> llama_cpp.Llama:
        return llama_log.load_encoder(path, f"the embedding model “{path}”", MAX_TOKENS)

    @classmethod
    def default(cls, threads: int = 0) -> Embedder:
        """The app's own all-MiniLM-L6-v2 (converted on first use)."""
        return cls.for_model(ensure_embedding_model(), threads)

    @classmethod
    def for_model(cls, model: EmbeddingModel, threads: int = 0) -> Embedder:
        return cls(
            model.path,
            max_tokens=model.max_tokens,
            name=model.name,
            threads=threads,
            query_prefix=model.query_prefix,
            document_prefix=model.document_prefix,
        )

    def _fit(self, llama: llama_cpp.Llama, text: str) -> str:
        """Cut a text to the model's length (sentence-transformers truncates the same way)."""
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(tokens) <= self.max_tokens:
            return text
        # tokenize() added [CLS] … [SEP]; keep the text of the first max_tokens - 2 word pieces
        kept = llama.detokenize(tokens[1 : self.max_tokens - 1])
        return kept.decode("utf-8", errors="ignore")

    def _vector(self, llama: llama_cpp.Llama, text: str) -> list[float]:
        return llama.embed(self._fit(llama, text) or " ", normalize=False)

    def embed(self, texts: Sequence[str], cancel: CancelToken = NEVER_CANCELLED) -> np.ndarray:
        """One L2-normalised float32 row per text; raises Cancelled once ``cancel`` is set."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            if self._pool is None or len(texts) == 1:
                rows = []
                for text in texts:
                    cancel.check()
                    rows.append(self._vector(self._copies[0], text))
            else:
                rows = self._embed_side_by_side(texts, cancel)
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages to index, with the model's own document prompt if it has one."""
        return self.embed([self.document_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        """A question, with the model's own query prompt if it has one (bge, e5, …)."""
        return self.embed([self.query_prefix + text])[0]

    def _embed_side_by_side(self, texts: Sequence[str], cancel: CancelToken) -> list[list[float]]:
        """Each copy takes the next text as soon as it is free, longest texts first, so the
        copies finish together (a fixed split leaves one idle while another has the long ones)."""
        order = iter(sorted(range(len(texts)), key=lambda i: -len(texts[i])))
        taking = threading.Lock()
        rows: list[list[float]] = [[] for _ in texts]

        def work(llama: llama_cpp.Llama) -> None:
            while not cancel.cancelled:
                with taking:
                    index = next(order, None)
                if index is None:
                    return
                rows[index] = self._vector(llama, texts[index])

        for done in [self._pool.submit(work, llama) for llama in self._copies]:  # type: ignore[union-attr]
            done.result()
        cancel.check()
        return rows

    def count_tokens(self, texts: Sequence[str], cancel: CancelToken = NEVER_CANCELLED) -> int:
        """How many tokens :meth:`embed` reads for ``texts`` (each cut to the model's length)."""
        with self._lock:
            llama = self._copies[0]
            total = 0
            for text in texts:
                cancel.check()
                total += min(
                    len(llama.tokenize(text.encode("utf-8"), add_bos=True)), self.max_tokens
                )
            return total

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
            for llama in self._copies:
                llama.close()
            self._copies = []
