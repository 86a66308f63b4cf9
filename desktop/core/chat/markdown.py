"""Markdown → the HTML subset Qt's text browser renders, with Pygments-highlighted code.

Model output is untrusted: raw HTML in it is shown as text, never interpreted. Each fenced
code block gets a "Copy" link (``{link_prefix}N``) so the window can put its text on the
clipboard.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound


@dataclass(frozen=True)
class Palette:
    code_background: str
    code_border: str
    link: str
    muted: str
    pygments_style: str


LIGHT = Palette("#f6f8fa", "#d0d7de", "#0b61c4", "#6a737d", "default")
DARK = Palette("#1e2228", "#3a404a", "#6cb2ff", "#9aa5b1", "monokai")


@dataclass
class Rendered:
    html: str
    code_blocks: list[str] = field(default_factory=list)


def _parser() -> MarkdownIt:
    # html=False: any HTML the model writes stays literal text.
    # breaks: a single newline in an answer is a line break, as in chat apps.
    return MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")


def _lexer(language: str, code: str):
    try:
        return get_lexer_by_name(language) if language else guess_lexer(code)
    except ClassNotFound:
        return get_lexer_by_name("text")


def render_markdown(
    text: str, palette: Palette = LIGHT, link_prefix: str = "copy-code:"
) -> Rendered:
    """HTML for ``text``; code block N gets a Copy link to ``{link_prefix}N``."""
    code_blocks: list[str] = []
    formatter = HtmlFormatter(nowrap=True, noclasses=True, style=palette.pygments_style)

    def fence(renderer, tokens, index, options, env) -> str:
        token = tokens[index]
        language = token.info.strip().split()[0] if token.info.strip() else ""
        code = token.content
        number = len(code_blocks)
        code_blocks.append(code)
        body = highlight(code, _lexer(language, code), formatter).rstrip("\n")
        label = html.escape(language or "code")
        return (
            f'<table width="100%" cellspacing="0" cellpadding="8" '
            f'style="background-color:{palette.code_background}; '
            f'border: 1px solid {palette.code_border}; margin: 6px 0px;">'
            f'<tr><td><span style="color:{palette.muted}; font-size:small;">{label}</span>'
            f'&nbsp;&nbsp;<a href="{link_prefix}{number}" style="color:{palette.link}; '
            f'font-size:small; text-decoration:none;">Copy</a>'
            f'<pre style="margin:4px 0px 0px 0px; white-space:pre-wrap;">{body}</pre>'
            f"</td></tr></table>"
        )

    md = _parser()
    md.add_render_rule("fence", fence)
    md.add_render_rule("code_block", fence)
    body = md.render(text)
    body = body.replace("<table>", '<table border="1" cellspacing="0" cellpadding="4" '
                        f'style="border-color:{palette.code_border};">')  # fmt: skip
    return Rendered(body, code_blocks)


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARKUP = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)")
_INLINE_MARKUP = re.compile(r"(\*\*|__|\*|`+|~~)")


def plain_text(text: str) -> str:
    """Markdown without its markup, for one-line previews (search snippets): links keep their
    text, emphasis and code marks go, as do heading, quote and list markers."""
    text = _LINK.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    return _INLINE_MARKUP.sub("", text)
