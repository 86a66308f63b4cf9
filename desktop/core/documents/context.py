"""Retrieved passages → what the model is given, and the numbered citations kept with the answer.

The passages go into the latest question's prompt (never into the saved question), best first;
each is numbered so the model can cite ``[1]``. The exact text given is kept with the answer
(``stats["sources"]``), so the user can see what the model saw and open each passage where it is.

How many passages, and how long, fits the model (:func:`budget_for`): a small model given eight
passages at a context of 4,096 tokens answers from none of them (the 135M starter invented pip
commands for a question its first passage answered plainly); given one or two short passages it
answers from them. A passage shortened for a small model keeps the sentences that share most
words with the question. When no passage is relevant enough (relevance.py), the model is not
asked at all: the answer is :func:`not_found_reply`, with the nearest passages shown below it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the session imports this module; it needs no numpy nor llama.cpp
    from desktop.core.documents.retrieval import Hit

INSTRUCTION = (
    "Answer the question using the numbered passages from the user's documents below. "
    "Cite the passages you use like [1]. If they do not contain the answer, say so."
)
CHARS_PER_TOKEN = 3  # a conservative average for English prose with these tokenizers
PASSAGE_OVERHEAD = 24  # characters a passage's number and label take besides the path
NEAREST_SHOWN = 3  # passages shown with a "nothing found" answer


@dataclass(frozen=True)
class Citation:
    number: int
    collection: str
    path: str
    page: int  # 0: the file has no pages
    start: int
    end: int
    text: str

    @property
    def label(self) -> str:
        where = Path(self.path).name
        return f"{where}, page {self.page}" if self.page else where

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Citation:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__})


def budget_chars(context_tokens: int, answer_tokens: int) -> int:
    """Room for passages: half of what the answer leaves of the context (the rest is for the
    conversation and the question), in characters."""
    room = max(context_tokens - min(answer_tokens, context_tokens // 2), 0)
    return room // 2 * CHARS_PER_TOKEN


@dataclass(frozen=True)
class PassageBudget:
    """How many passages a model is given, and how long each may be (characters)."""

    count: int
    chars: int


# (fewer parameters than, passages, characters each): measured with the starter model
# (135M) in benchmarks/documents.py; larger models read more and longer passages well.
_BY_SIZE = ((500e6, 2, 400), (2e9, 3, 700), (5e9, 4, 1000), (15e9, 6, 1200))
_UNKNOWN_SIZE = (4, 1000)
_LARGE = (8, 1200)


def budget_for(parameters: int, context_tokens: int, answer_tokens: int) -> PassageBudget:
    """What a model of ``parameters`` (0: unknown) reads well, within what its context leaves
    for passages (:func:`budget_chars`)."""
    count, chars = _UNKNOWN_SIZE if parameters <= 0 else _LARGE
    for limit, size_count, size_chars in _BY_SIZE if parameters > 0 else ():
        if parameters < limit:
            count, chars = size_count, size_chars
            break
    room = budget_chars(context_tokens, answer_tokens)
    count = max(1, min(count, room // (chars + 100 + PASSAGE_OVERHEAD)))
    return PassageBudget(count, max(min(chars, room // count - 100 - PASSAGE_OVERHEAD), 80))


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n")
_WORDS = re.compile(r"[^\W_]+")


def focus(text: str, question_words: set[str], max_chars: int) -> tuple[int, int]:
    """The span (start, end) of ``text``, at most ``max_chars`` long and made of whole
    sentences where it can be, that holds most of the question's words (ties: the earliest)."""
    if len(text) <= max_chars:
        return 0, len(text)
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    sentences = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    best, best_span = -1.0, (0, max_chars)
    for i, (start, _end) in enumerate(sentences):
        end = start
        for _s, sentence_end in sentences[i:]:
            if sentence_end - start > max_chars:
                break
            end = sentence_end
        if end == start:  # one sentence longer than the budget: its beginning
            end = start + max_chars
        words = {w.lower() for w in _WORDS.findall(text[start:end])}
        score = len(words & question_words) - start / (len(text) * 10)
        if score > best:
            best, best_span = score, (start, end)
    start, end = best_span
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass(frozen=True)
class Passages:
    """What documents Q&A found for a question: the passages the model is given (relevant
    enough), else the nearest ones to show the user with a "nothing found" answer."""

    given: list[Citation]
    nearest: list[Citation] = field(default_factory=list)
    collections: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.given)


def not_found_reply(collections: Sequence[str]) -> str:
    names = ", ".join(f"“{name}”" for name in collections) or "your documents"
    return (
        f"I found nothing about this in {names}. The nearest passages are listed below; none "
        "of them seemed relevant enough to answer from."
    )


def citation(number: int, hit: Hit, start: int = 0, end: int | None = None) -> Citation:
    """Hit → a numbered citation of its text from ``start`` to ``end`` (offsets in it)."""
    chunk = hit.chunk
    end = len(chunk.text) if end is None else end
    return Citation(
        number,
        chunk.collection,
        chunk.path,
        chunk.page,
        chunk.start + start,
        chunk.start + end,
        chunk.text[start:end],
    )


def prompt_with_passages(question: str, citations: Sequence[Citation]) -> str:
    if not citations:
        return question
    passages = "\n\n".join(f"[{c.number}] {c.label}:\n{c.text}" for c in citations)
    return f"{INSTRUCTION}\n\n{passages}\n\nQuestion: {question}"


# What a session asks for: (question, collections) → the passages to give the model.
Retriever = Callable[[str, list[str]], Passages]
