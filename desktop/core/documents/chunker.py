"""Pages → chunks of about ``size`` characters, each with its page and character span.

A chunk ends at the best boundary in its last third: a blank line, else the end of a sentence,
else a space (a word is never cut unless it is longer than the window). Consecutive chunks
overlap by about ``overlap`` characters so a sentence cut at a boundary is still whole in one of
them. ``page_text[start:end] == chunk.text`` always holds, so a citation can show the passage
exactly where it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.core.documents.parsers import Page

CHUNK_SIZE = 512
OVERLAP = 64

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"[.!?;:。](?:[\"')\]]*)\s")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Chunk:
    page: int
    start: int  # character offsets in the page's text
    end: int
    text: str


def _cut(text: str, start: int, size: int) -> int:
    """Where the chunk starting at ``start`` should end."""
    limit = start + size
    if limit >= len(text):
        return len(text)
    floor = start + size * 2 // 3
    window = text[floor:limit]
    for pattern in (_PARAGRAPH, _SENTENCE, _SPACE):
        matches = list(pattern.finditer(window))
        if matches:
            return floor + matches[-1].end()
    return limit


def chunk_page(page: Page, size: int = CHUNK_SIZE, overlap: int = OVERLAP) -> list[Chunk]:
    text = page.text
    chunks = []
    start = 0
    while start < len(text):
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        end = _cut(text, start, size)
        stripped_end = end
        while stripped_end > start and text[stripped_end - 1].isspace():
            stripped_end -= 1
        chunks.append(Chunk(page.number, start, stripped_end, text[start:stripped_end]))
        if end >= len(text):
            break
        # The next chunk starts ``overlap`` characters back, at the start of a word.
        if overlap:
            back = max(end - overlap, start + 1)
            space = _SPACE.search(text, back, end)
            start = space.end() if space else back
        else:
            start = end
    return chunks


def chunk_pages(
    pages: Iterable[Page], size: int = CHUNK_SIZE, overlap: int = OVERLAP
) -> list[Chunk]:
    return [chunk for page in pages for chunk in chunk_page(page, size, overlap)]
