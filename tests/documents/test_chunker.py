from __future__ import annotations

import itertools

from desktop.core.documents.chunker import chunk_page
from desktop.core.documents.parsers import Page

PROSE = " ".join(
    f"Sentence number {i} talks about topic {i % 7} and ends here." for i in range(200)
)


def test_spans_point_at_the_text_and_words_stay_whole() -> None:
    page = Page(4, "Intro paragraph.\n\n" + PROSE + "\n\nLast words.")
    chunks = chunk_page(page, size=512, overlap=64)
    assert len(chunks) > 10
    for chunk in chunks:
        assert page.text[chunk.start : chunk.end] == chunk.text
        assert chunk.page == 4
        assert 0 < len(chunk.text) <= 512
        assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
        before = page.text[chunk.start - 1] if chunk.start else " "
        after = page.text[chunk.end] if chunk.end < len(page.text) else " "
        assert not (before.isalnum() and chunk.text[0].isalnum()), "a word was cut at the start"
        assert not (after.isalnum() and chunk.text[-1].isalnum()), "a word was cut at the end"
    # Sentence boundaries are preferred, and neighbours overlap without skipping text.
    assert sum(c.text.endswith(".") for c in chunks) >= len(chunks) - 1
    for first, second in itertools.pairwise(chunks):
        assert second.start < first.end, "no overlap: text between chunks could be lost"
        assert second.start > first.start


def test_no_overlap_covers_everything_once() -> None:
    page = Page(0, PROSE)
    chunks = chunk_page(page, size=300, overlap=0)
    assert "".join(page.text[c.start : c.end] for c in chunks).replace(" ", "") == PROSE.replace(
        " ", ""
    )


def test_a_long_word_is_cut_and_short_text_is_one_chunk() -> None:
    assert [c.text for c in chunk_page(Page(0, "  short text  "))] == ["short text"]
    chunks = chunk_page(Page(0, "x" * 1200), size=512, overlap=64)
    assert all(len(c.text) <= 512 for c in chunks)
    assert chunks[-1].end == 1200
