"""Text → unit-length vectors with a GGUF embedding model in llama.cpp.

The default is the app's own all-MiniLM-L6-v2 (``embedding_model.py``); any GGUF embedding
model (a BERT-family model converted from the Hub, nomic-embed, bge, …) can be used instead.
A lock makes one embedder safe to share between the indexer and searches.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import llama_cpp
import numpy as np

from desktop.core import hardware, llama_log
from desktop.core.embedding_model import EMBEDDING_NAME, ensure_embedding_model
from desktop.core.errors import ModelLoadError

MAX_TOKENS = 512  # the longest text one sequence may hold


class Embedder:
    """``threads`` copies of the model (by default one per physical core), one CPU thread
    each, embed texts side by side.

    Measured on 2 cores (benchmarks/documents.py): flash attention makes the model 2.5× faster;
    one sequence per llama.cpp call is as fast as several (and many are slower: the batch
    attends over itself); one thread per copy beats one copy with several threads, which wait
    for each other at every operation of a model this small (badly so when other programs share
    the CPU).
    """

    def __init__(
        self, path: Path, *, max_tokens: int = 0, name: str = "", threads: int = 0
    ) -> None:
        llama_log.install()
        count = max(threads or hardware.physical_cores(), 1)
        self._copies = [self._load(path) for _ in range(count)]
        first = self._copies[0]
        trained = first._model.n_ctx_train()
        self.max_tokens = min(max_tokens or trained, trained, MAX_TOKENS)
        self.dimensions = first.n_embd()
        self.name = name or path.stem
        self.path = path
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="embed") if count > 1 else None

    @staticmethod
    def _load(path: Path) -> llama_cpp.Llama:
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                llama = llama_cpp.Llama(
                    model_path=str(path),
                    embedding=True,
                    n_ctx=MAX_TOKENS,
                    n_batch=MAX_TOKENS,
                    n_ubatch=MAX_TOKENS,
                    n_seq_max=1,
                    n_threads=1,
                    n_threads_batch=1,
                    flash_attn=True,  # 2.5× faster here, same vectors (cosine > 0.99999)
                    verbose=True,  # see ChatEngine.load: False would silence the process
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load the embedding model “{path}”.") from exc
        llama.verbose = False
        return llama

    @classmethod
    def default(cls, threads: int = 0) -> Embedder:
        """The app's own all-MiniLM-L6-v2 (converted on first use)."""
        model = ensure_embedding_model()
        return cls(model.path, max_tokens=model.max_tokens, name=EMBEDDING_NAME, threads=threads)

    def _fit(self, llama: llama_cpp.Llama, text: str) -> str:
        """Cut a text to the model's length (sentence-transformers truncates the same way)."""
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(tokens) <= self.max_tokens:
            return text
        # tokenize() added [CLS] … [SEP]; keep the text of the first max_tokens - 2 word pieces
        kept = llama.detokenize(tokens[1 : self.max_tokens - 1])
        return kept.decode("utf-8", errors="ignore")

    def _embed_part(self, llama: llama_cpp.Llama, texts: Sequence[str]) -> list[list[float]]:
        return [llama.embed(self._fit(llama, t) or " ", normalize=False) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            if self._pool is None or len(texts) == 1:
                rows = self._embed_part(self._copies[0], texts)
            else:
                count = len(self._copies)
                parts = [texts[i::count] for i in range(count)]
                done = list(self._pool.map(self._embed_part, self._copies, parts))
                rows = [None] * len(texts)  # type: ignore[list-item]
                for i, part in enumerate(done):
                    rows[i::count] = part
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """How many tokens :meth:`embed` reads for ``texts`` (each cut to the model's length)."""
        with self._lock:
            llama = self._copies[0]
            return sum(
                min(len(llama.tokenize(t.encode("utf-8"), add_bos=True)), self.max_tokens)
                for t in texts
            )

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
            for llama in self._copies:
                llama.close()
            self._copies = []
