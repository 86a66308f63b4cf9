"""What the transcript renders of a message and of a conversation (folding.py), and the limits
on highlighting (markdown.py): bounded by the limits, whatever the input's size."""

from __future__ import annotations

import time

import pytest

from desktop.core.chat import folding, markdown
from desktop.core.chat.folding import FOLD_CHARS, FOLD_LINES, PAGE_CHARS, PAGE_MESSAGES, fold


def test_a_short_message_is_shown_whole() -> None:
    text = "line\n" * 10
    assert fold(text) == folding.Fold(text, 0)
    assert not fold(text).folded


def test_a_long_message_shows_its_beginning_cut_at_a_line_end() -> None:
    text = "".join(f"line {n} of the log\n" for n in range(10_000))
    shown = fold(text)
    assert shown.folded and shown.shown.endswith("of the log")
    assert shown.shown.count("\n") < FOLD_LINES and len(shown.shown) <= FOLD_CHARS
    assert len(shown.shown) + shown.hidden >= len(text) - 1  # nothing in between is lost


def test_one_long_line_is_cut_at_a_space_or_at_the_limit() -> None:
    assert fold("word " * 10_000).shown.endswith("word")
    unbroken = fold("x" * 60_000_000)
    assert len(unbroken.shown) == FOLD_CHARS and unbroken.hidden == 60_000_000 - FOLD_CHARS


def test_folding_costs_what_the_beginning_costs() -> None:
    small, huge = "a\n" * 50_000, "a\n" * 30_000_000
    started = time.perf_counter()
    fold(small)
    small_s = time.perf_counter() - started
    started = time.perf_counter()
    assert fold(huge).hidden > 0
    assert time.perf_counter() - started < 50 * small_s + 0.05  # not 600 times more


@pytest.mark.parametrize("sizes", [[10] * 10_000, [50_000_000] * 3, [30_000, 10, 10, 10]])
def test_a_page_is_bounded_and_never_empty(sizes: list[int]) -> None:
    start = folding.page_before(sizes, len(sizes))
    assert 1 <= len(sizes) - start <= PAGE_MESSAGES
    shown = [min(size, FOLD_CHARS) for size in sizes[start:]]
    assert sum(shown[1:]) < PAGE_CHARS  # one message more than the budget at most
    end = folding.page_after(sizes, 0)
    assert 1 <= end <= PAGE_MESSAGES and sum(min(s, FOLD_CHARS) for s in sizes[: end - 1]) < (
        PAGE_CHARS
    )


def test_a_language_is_guessed_from_the_beginning_of_the_code_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    real = markdown.guess_lexer
    monkeypatch.setattr(markdown, "guess_lexer", lambda code: seen.append(len(code)) or real(code))
    markdown.render_markdown("```\n" + "x = 1\n" * 3_000 + "```")  # 18,000 characters
    assert seen == [markdown.GUESS_CHARS]


def test_code_beyond_the_highlighting_budget_is_plain_and_escaped() -> None:
    code = "if a < b: print('<b>')\n" * 2_000  # 46,000 characters
    rendered = markdown.render_markdown(f"```python\n{code}```\n\n```python\nx = 1\n```")
    assert "&lt;b&gt;" in rendered.html and "<b>'" not in rendered.html
    assert rendered.code_blocks == [code, "x = 1\n"]
    colour = 'style="color:'
    assert rendered.html.count(colour) < 10  # the big block stayed plain, as did what follows
