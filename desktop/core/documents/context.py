"""Retrieved passages → what the model is given, and the numbered citations kept with the answer.

The passages go into the latest question's prompt (never into the saved question), best first,
until the character budget is used; each is numbered so the model can cite ``[1]``. The exact
text given is kept with the answer (``stats["sources"]``), so the user can see what the model
saw and open each passage where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the session imports this module; it needs no numpy nor llama.cpp
    from desktop.core.documents.retrieval import Hit

INSTRUCTION = (
    "Answer the question using the numbered passages from the user's documents below. "
    "Cite the passages you use like [1]. If they do not contain the answer, say so."
)
CHARS_PER_TOKEN = 3  # a conservative average for English prose with these tokenizers


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


def citations_within(hits: Sequence[Hit], max_chars: int) -> list[Citation]:
    """The hits that fit in ``max_chars``, numbered from 1 (the first is cut to fit if alone
    it is too long)."""
    chosen: list[Citation] = []
    used = 0
    for hit in hits:
        chunk = hit.chunk
        text = chunk.text
        cost = len(text) + len(chunk.path) + 24
        if used + cost > max_chars:
            if chosen:
                break
            text = text[: max(max_chars - len(chunk.path) - 24, 0)]
            if not text:
                break
        chosen.append(
            Citation(
                len(chosen) + 1,
                chunk.collection,
                chunk.path,
                chunk.page,
                chunk.start,
                chunk.start + len(text),
                text,
            )
        )
        used += cost
    return chosen


def prompt_with_passages(question: str, citations: Sequence[Citation]) -> str:
    if not citations:
        return question
    passages = "\n\n".join(f"[{c.number}] {c.label}:\n{c.text}" for c in citations)
    return f"{INSTRUCTION}\n\n{passages}\n\nQuestion: {question}"


# What a session asks for: the question → the citations to give the model.
Retriever = Callable[[str], list[Citation]]
