"""ROUGE-L F-measure exactly as ``rouge-score`` computes it, one pair or many at once.

Stanford's self-instruct scored a new instruction against an earlier one with
``rouge_scorer._score_lcs(new_tokens, earlier_tokens).fmeasure`` (default tokenizer, no
stemmer). We use the same tokenizer and the same floating-point formula
(``rouge_score.scoring.fmeasure(lcs / len(earlier), lcs / len(new))``); only the length of the
longest common subsequence is found differently — bit-parallel (Hyyrö 2004) instead of a
Python table, and vectorised over many earlier instructions with numpy. The LCS length is an
integer, so the scores are bit-identical (``tests/selfinstruct/test_dedup.py`` checks it against
``rouge-score`` itself). rouge-score's own ``_lcs_table`` is about 12× slower per pair, which is
why it is not called here.
"""

from __future__ import annotations

import numpy as np
from rouge_score.scoring import fmeasure
from rouge_score.tokenize import tokenize

Tokens = tuple[str, ...]
_WORD_BITS = 64  # a query of up to 64 tokens fits one uint64 per earlier instruction
_FEW = 24  # below this many rows, numpy's per-call overhead costs more than a Python loop


def rouge_tokens(text: str) -> Tokens:
    """``rouge-score``'s default tokens (lower case, runs of [a-z0-9]), no stemming."""
    return tuple(tokenize(text, None))


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of two token sequences."""
    return _lcs_with_masks(_position_masks(a), len(a), b)


def _position_masks(tokens: Tokens) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << i)
    return masks


def _lcs_with_masks(masks: dict[str, int], length: int, other: Tokens) -> int:
    # Hyyrö's recurrence: V starts all ones; for each symbol, U = V & M[s], V = (V + U) | (V − U).
    # The zeros left among the low `length` bits of V count the LCS.
    full = (1 << length) - 1
    v = full
    for token in other:
        m = masks.get(token)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return length - v.bit_count()


def rouge_l(new: Tokens, earlier: Tokens) -> float:
    """``rouge_scorer._score_lcs(new, earlier).fmeasure``, bit for bit."""
    if not new or not earlier:
        return 0.0
    lcs = lcs_length(new, earlier)
    return fmeasure(lcs / len(earlier), lcs / len(new))


class TokenMatrix:
    """The token ids of many instructions, to score one new instruction against any subset."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # token → id ≥ 1; 0 pads the rows of the matrix
        self.tokens: list[Tokens] = []
        self._matrix = np.zeros((1024, 32), dtype=np.int32)
        self._masks = np.zeros(1024, dtype=np.uint64)  # per token id, during one query
        self._lengths = np.zeros(1024, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths

    def add(self, tokens: Tokens) -> None:
        row = len(self.tokens)
        rows, width = self._matrix.shape
        if row >= rows or len(tokens) > width:
            grown = np.zeros(
                (rows * 2 if row >= rows else rows, max(width, 2 * len(tokens))), np.int32
            )
            grown[:rows, :width] = self._matrix
            self._matrix = grown
            self._lengths = np.resize(self._lengths, grown.shape[0])
        ids = [self.ids.setdefault(token, len(self.ids) + 1) for token in tokens]
        if len(self.ids) >= len(self._masks):
            self._masks = np.zeros(2 * len(self.ids), dtype=np.uint64)
        self._matrix[row, : len(ids)] = ids
        self._lengths[row] = len(ids)
        self.tokens.append(tokens)

    def scores(self, new: Tokens, rows: np.ndarray | None = None) -> np.ndarray:
        """ROUGE-L of ``new`` against the instructions at ``rows`` (all when None), as float64."""
        rows = np.arange(len(self.tokens)) if rows is None else rows
        if not new or len(rows) == 0:
            return np.zeros(len(rows))
        if len(new) > _WORD_BITS or len(rows) < _FEW:  # the same numbers, in plain Python
            masks = _position_masks(new)
            out = np.zeros(len(rows))
            for j, row in enumerate(rows.tolist()):
                earlier = self.tokens[row]
                common = _lcs_with_masks(masks, len(new), earlier) if earlier else 0
                if common:
                    out[j] = fmeasure(common / len(earlier), common / len(new))
            return out
        lengths = self._lengths[rows]
        lcs = self._lcs(new, rows, int(lengths.max()))
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = lcs / lengths
            recall = lcs / len(new)
            # The same operations in the same order as rouge_score.scoring.fmeasure.
            f = 2 * precision * recall / (precision + recall)
        return np.where((lcs > 0) & (lengths > 0), f, 0.0)

    def _lcs(self, new: Tokens, rows: np.ndarray, width: int) -> np.ndarray:
        # Each distinct token of `new` → the bit positions where it occurs, in a table by id
        # (id 0, the padding, stays 0), cleared again afterwards.
        masks: dict[int, int] = {}
        for i, token in enumerate(new):
            token_id = self.ids.get(token)
            if token_id is not None:
                masks[token_id] = masks.get(token_id, 0) | (1 << i)
        if not masks:
            return np.zeros(len(rows), dtype=np.int64)
        ids = np.fromiter(masks, dtype=np.int64, count=len(masks))
        self._masks[ids] = np.fromiter(masks.values(), dtype=np.uint64, count=len(masks))
        try:
            symbol_masks = self._masks[self._matrix[rows, :width]]
        finally:
            self._masks[ids] = 0
        v = np.full(len(rows), (1 << len(new)) - 1, dtype=np.uint64)
        u = np.empty_like(v)
        total = np.empty_like(v)
        # Bits above the query's length only ever receive carries, which never flow down, so
        # they are masked once at the end; uint64 overflow likewise only drops such bits.
        for column in symbol_masks.T[symbol_masks.any(axis=0)]:
            np.bitwise_and(v, column, out=u)
            np.add(v, u, out=total)
            np.subtract(v, u, out=v)
            np.bitwise_or(total, v, out=v)
        v &= np.uint64((1 << len(new)) - 1)
        return len(new) - np.bitwise_count(v).astype(np.int64)
