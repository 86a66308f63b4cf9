"""A GGUF model's weights and vocabulary in llama.cpp, shared by the threads that use it.

Tokenizing and turning tokens back into text only read the vocabulary, which llama.cpp never
changes after loading, so any thread may call them (llama.cpp's own server tokenizes in its HTTP
threads while another decodes). Decoding needs a context, which :class:`BatchDecoder` owns.

llama-cpp-python's ``Llama`` bundles the weights with a single-sequence context; the batched
decoder needs the weights alone, so this class calls llama.cpp's C API directly.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from pathlib import Path
from typing import Any

import llama_cpp

from conversion import llama_log
from conversion.errors import HuacayaError, ModelLoadError

_PIECE_BYTES = 64  # long enough for any token llama.cpp knows; longer ones are retried


class GgufModel:
    """The weights of one GGUF file, memory-mapped (:meth:`load`), and its vocabulary."""

    def __init__(self, path: Path, handle: Any, *, on_cpu: bool = True) -> None:
        self.path = Path(path)
        self.handle = handle  # llama_model *
        self.on_cpu = on_cpu  # no layer offloaded to a GPU: contexts run on the CPU
        self.vocab = llama_cpp.llama_model_get_vocab(handle)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.trained_context = int(llama_cpp.llama_model_n_ctx_train(handle))
        self.bos = int(llama_cpp.llama_vocab_bos(self.vocab))
        self.eos = int(llama_cpp.llama_vocab_eos(self.vocab))
        self.adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self._pieces: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._free = weakref.finalize(self, llama_cpp.llama_model_free, handle)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        gpu_layers: int = 0,
        what: str = "",
        error: type[HuacayaError] = ModelLoadError,
    ) -> GgufModel:
        """Load ``path`` (ModelLoadError, or ``error``, with llama.cpp's words if it cannot)."""
        on_cpu = gpu_layers == 0 or not llama_cpp.llama_supports_gpu_offload()
        return cls(path, llama_log.load_model(path, what, error, gpu_layers), on_cpu=on_cpu)

    def close(self) -> None:
        """Free the weights (idempotent); every context made from them must be freed first."""
        self._free()

    @property
    def closed(self) -> bool:
        return not self._free.alive

    # -- vocabulary (any thread) -----------------------------------------------------------

    def tokenize(self, text: str, add_special: bool = True, special: bool = True) -> list[int]:
        """``text`` as token ids; ``add_special``: the BOS the model asks for (if it does);
        ``special``: special-token texts such as ``<|im_start|>`` become those tokens."""
        data = text.encode("utf-8")
        size = len(data) + 8
        while True:
            buffer = (llama_cpp.llama_token * size)()
            count = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buffer, size, add_special, special
            )
            if count >= 0:
                return list(buffer[:count])
            size = -count

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (possibly part of a UTF-8 character); special tokens give
        b"" unless ``special``."""
        if not special:
            cached = self._pieces.get(token)
            if cached is not None:
                return cached
        size = _PIECE_BYTES
        while True:
            buffer = ctypes.create_string_buffer(size)
            count = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, size, 0, special)
            if count >= 0:
                break
            size = -count
        piece = buffer.raw[:count]
        if not special:
            with self._lock:
                self._pieces[token] = piece
        return piece

    def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
        """The bytes of ``tokens``, without the space a leading BOS puts before the text."""
        text = b"".join(self.piece(token, special) for token in tokens)
        if tokens and tokens[0] == self.bos and text.startswith(b" "):
            return text[1:]
        return text

    def token_text(self, token: int) -> str:
        """A special token's text, e.g. ``<|im_end|>`` ("" for none)."""
        if token < 0:
            return ""
        return self.piece(token, special=True).decode("utf-8", errors="replace")

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends generation (EOS, EOT and the like)."""
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def valid(self, tokens: list[int]) -> bool:
        return all(0 <= token < self.n_vocab for token in tokens)
