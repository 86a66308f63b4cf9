"""The tokens of one decoding step, in llama.cpp's ``llama_batch`` layout.

Our own arrays (``llama_batch_init`` leaves every field to be set one ctypes call at a time),
filled through NumPy views, so that a 500-token prompt is one slice assignment. A token may
belong to several sequences at once: a prompt prefix that several new sequences share is
evaluated once, and its cache cells serve them all.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import llama_cpp
import numpy as np


class TokenBatch:
    def __init__(self, capacity: int, max_sequences: int) -> None:
        self.capacity, self.max_sequences = capacity, max_sequences
        self._token = (ctypes.c_int32 * capacity)()
        self._pos = (ctypes.c_int32 * capacity)()
        self._n_seq = (ctypes.c_int32 * capacity)()
        self._seq_store = (ctypes.c_int32 * (capacity * max_sequences))()
        self._seq = (ctypes.POINTER(ctypes.c_int32) * capacity)()
        width = ctypes.sizeof(ctypes.c_int32) * max_sequences
        base = ctypes.addressof(self._seq_store)
        for i in range(capacity):
            self._seq[i] = ctypes.cast(base + i * width, ctypes.POINTER(ctypes.c_int32))
        self._logits = (ctypes.c_int8 * capacity)()
        self.tokens = np.frombuffer(memoryview(self._token), dtype=np.int32)
        self.positions = np.frombuffer(memoryview(self._pos), dtype=np.int32)
        self.sequence_counts = np.frombuffer(memoryview(self._n_seq), dtype=np.int32)
        self.sequences = np.frombuffer(memoryview(self._seq_store), dtype=np.int32).reshape(
            capacity, max_sequences
        )
        self.logits = np.frombuffer(memoryview(self._logits), dtype=np.int8)
        self.size = 0

    @property
    def room(self) -> int:
        return self.capacity - self.size

    def clear(self) -> None:
        self.size = 0

    def add(
        self, tokens: Sequence[int], start: int, sequences: Sequence[int], logits_last: bool
    ) -> int:
        """``tokens`` at positions ``start``… of every sequence in ``sequences``; logits for
        the last one if asked. Returns the batch index of that last token."""
        count = len(tokens)
        begin, end = self.size, self.size + count
        if count == 0 or end > self.capacity:
            raise ValueError(f"{count} tokens do not fit in the batch ({self.room} left)")
        if count == 1 and len(sequences) == 1:  # an answering sequence's next token: no NumPy
            self._token[begin], self._pos[begin] = tokens[0], start
            self._n_seq[begin], self._seq_store[begin * self.max_sequences] = 1, sequences[0]
            self._logits[begin] = 1 if logits_last else 0
            self.size = end
            return begin
        self.tokens[begin:end] = tokens
        self.positions[begin:end] = np.arange(start, start + count, dtype=np.int32)
        self.sequence_counts[begin:end] = len(sequences)
        self.sequences[begin:end, : len(sequences)] = sequences
        self.logits[begin:end] = 0
        if logits_last:
            self.logits[end - 1] = 1
        self.size = end
        return end - 1

    def as_llama_batch(self) -> llama_cpp.llama_batch:
        return llama_cpp.llama_batch(
            n_tokens=self.size,
            token=ctypes.cast(self._token, ctypes.POINTER(llama_cpp.llama_token)),
            embd=None,
            pos=ctypes.cast(self._pos, ctypes.POINTER(llama_cpp.llama_pos)),
            n_seq_id=ctypes.cast(self._n_seq, ctypes.POINTER(ctypes.c_int32)),
            seq_id=ctypes.cast(self._seq, ctypes.POINTER(ctypes.POINTER(llama_cpp.llama_seq_id))),
            logits=ctypes.cast(self._logits, ctypes.POINTER(ctypes.c_int8)),
        )
