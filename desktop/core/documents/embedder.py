"""Text → unit-length vectors with a GGUF embedding model in llama.cpp.

The default is the app's own all-MiniLM-L6-v2 (``embedding_model.py``); any GGUF embedding
model (a BERT-family model converted from the Hub, nomic-embed, bge, …) can be used instead.
Several texts go through llama.cpp in one batch (one sequence each), which is what makes CPU
indexing fast. A lock makes one embedder safe to share between the indexer and searches.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from desktop.core import hardware, llama_log
from desktop.core.embedding_model import EMBEDDING_NAME, ensure_embedding_model
from desktop.core.errors import ModelLoadError

BATCH_TOKENS = 512  # measured: larger batches are slower (attention spans the whole batch)
SEQUENCES_PER_BATCH = 4


class Embedder:
    def __init__(
        self, path: Path, *, max_tokens: int = 0, name: str = "", threads: int = 0
    ) -> None:
        llama_log.install()
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                self._llama = llama_cpp.Llama(
                    model_path=str(path),
                    embedding=True,
                    n_ctx=BATCH_TOKENS,
                    n_batch=BATCH_TOKENS,
                    n_ubatch=BATCH_TOKENS,
                    n_seq_max=SEQUENCES_PER_BATCH,
                    n_threads=threads or hardware.default_threads(),
                    n_threads_batch=threads or hardware.default_threads(),
                    verbose=True,  # see ChatEngine.load: False would silence the process
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load the embedding model “{path}”.") from exc
        self._llama.verbose = False
        trained = self._llama._model.n_ctx_train()
        self.max_tokens = min(max_tokens or trained, trained, BATCH_TOKENS // 2)
        self.dimensions = self._llama.n_embd()
        self.name = name or path.stem
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def default(cls, threads: int = 0) -> Embedder:
        """The app's own all-MiniLM-L6-v2 (converted on first use)."""
        model = ensure_embedding_model()
        return cls(model.path, max_tokens=model.max_tokens, name=EMBEDDING_NAME, threads=threads)

    def _fit(self, text: str) -> str:
        """Cut a text to the model's length (sentence-transformers truncates the same way)."""
        tokens = self._llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(tokens) <= self.max_tokens:
            return text
        # tokenize() added [CLS] … [SEP]; keep the text of the first max_tokens - 2 word pieces
        kept = self._llama.detokenize(tokens[1 : self.max_tokens - 1])
        return kept.decode("utf-8", errors="ignore")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            fitted = [self._fit(t) or " " for t in texts]
            rows = self._llama.embed(fitted, normalize=False, truncate=True)
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)

    def close(self) -> None:
        with self._lock:
            self._llama.close()
