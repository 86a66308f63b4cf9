"""One message as the transcript shows it: an :class:`Entry` (the message's text and what the
view knows of it: its frame, whether it is folded, its rendered Markdown) and its HTML — the
label, the Markdown of what is shown, the line under a folded message ("Show all"), the note
under an answer, its sources and its links. Links carry the message's key, never a position."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtGui import QTextFrame

from desktop.core.chat.folding import EXPAND_CHARS, Fold, fold, size_text
from desktop.core.chat.markdown import Palette, Rendered, render_markdown
from desktop.core.documents.context import Citation

STREAMING_KEY = 0  # the answer being produced has no key until the session saves it


@dataclass
class Entry:
    key: int
    role: str
    label: str
    content: str
    note: str = ""
    streaming: bool = False
    frame: QTextFrame | None = None  # None while it is not in the document
    code_blocks: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)  # documents the answer was given
    message_id: int | None = None  # its row in the history
    expanded: bool = False  # all of a long message is shown ("Show all" was rendered)
    expanding: bool = False  # …is being rendered, off the GUI thread
    rendered: Rendered | None = None  # the Markdown of what was last shown, kept for re-renders
    rendered_as: tuple[Palette, bool] | None = None  # (palette, whole) it was rendered for
    version: int = 1  # which version of its turn is shown…
    versions: int = 1  # …of how many (‹ 2/3 › pages through them)

    @property
    def link_prefix(self) -> str:
        return f"copy-code:{self.key}:"

    def forget_rendering(self) -> None:
        self.rendered = self.rendered_as = None
        self.expanded = self.expanding = False

    def render_whole(self, palette: Palette) -> Rendered:
        """All of the message's Markdown (slow for a long one: the view calls this off the GUI
        thread, except right after an answer streamed, which was rendered whole all along)."""
        return render_markdown(self.content, palette, self.link_prefix)

    def keep_whole(self, rendered: Rendered, palette: Palette) -> None:
        self.rendered, self.rendered_as = rendered, (palette, True)
        self.expanded, self.expanding = True, False

    def markdown(self, palette: Palette) -> tuple[Rendered, Fold]:
        """The Markdown of what is shown: all of it while it streams or once it was rendered
        whole, else its beginning (a short message: all of it). An expanded message rendered
        for another palette comes back folded: the view renders it whole again."""
        if self.streaming:
            return self.render_whole(palette), Fold(self.content, 0)
        if self.expanded:
            if self.rendered is not None and self.rendered_as == (palette, True):
                return self.rendered, Fold(self.content, 0)
            self.expanded = False
        shown = fold(self.content)
        if self.rendered is None or self.rendered_as != (palette, False):
            self.rendered = render_markdown(shown.shown, palette, self.link_prefix)
            self.rendered_as = (palette, False)
        return self.rendered, shown

    def html(self, palette: Palette, regenerable: bool) -> str:
        """The message's HTML; ``regenerable``: it is the answer Regenerate replaces."""
        rendered, shown = self.markdown(palette)
        self.code_blocks = rendered.code_blocks
        parts = [label_html(self.label, palette), rendered.html or "<p></p>"]
        if shown.folded or self.expanded:
            total = len(self.content)
            parts.append(
                fold_html(self.key, len(shown.shown), total, self.expanded, self.expanding, palette)
            )
        if self.note:
            parts.append(note_html(self.note, palette))
        if self.citations and not self.streaming:
            parts.append(sources_html(self.key, self.citations, palette))
        if not self.streaming and self.key != STREAMING_KEY:
            links = [("copy", "Copy")]
            if self.role == "user":
                links.append(("edit", "Edit"))
            elif regenerable:
                links.append(("regenerate", "Regenerate"))
            switcher = versions_html(self.key, self.version, self.versions, palette)
            parts.append(actions_html(self.key, links, palette, switcher))
        return "".join(parts)


def _link(href: str, text: str, palette: Palette) -> str:
    return f'<a href="{href}" style="color:{palette.link}; text-decoration:none;">{text}</a>'


def label_html(label: str, palette: Palette) -> str:
    return (
        f'<p style="margin:0px 0px 4px 0px; color:{palette.muted};"><b>{html.escape(label)}</b></p>'
    )


def fold_html(
    key: int, shown: int, total: int, expanded: bool, expanding: bool, palette: Palette
) -> str:
    """The line under a long message: how much is shown, and the link to see the rest (or to
    fold it again). "" for a message shown whole that was never folded."""
    if expanded:
        links = _link(f"fold:less:{key}", "Show less", palette)
        words = f"All {size_text(total)} shown."
    else:
        if expanding:
            links = "Rendering the rest…"
        elif total > EXPAND_CHARS:
            links = _link(f"fold:all:{key}", "Show all in a viewer", palette)
        else:
            links = _link(f"fold:all:{key}", "Show all", palette)
        words = f"Showing the first {shown:,} of {size_text(total)}."
    return f'<p style="font-size:small; margin-top:4px; color:{palette.muted};">{words} {links}</p>'


def note_html(note: str, palette: Palette) -> str:
    return f'<p style="color:{palette.muted}; font-style:italic;">{html.escape(note)}</p>'


def sources_html(key: int, citations: Sequence[Citation], palette: Palette) -> str:
    links = [
        _link(f"source:{key}:{c.number}", f"[{c.number}] {html.escape(c.label)}", palette)
        for c in citations
    ]
    links.append(_link(f"source:{key}:0", "What the model was given", palette))
    return (
        f'<p style="font-size:small; margin-top:4px; color:{palette.muted};">Sources: '
        + " · ".join(links)
        + "</p>"
    )


OLDER, NEWER = "older-version", "newer-version"  # the links of ‹ and ›


def versions_html(key: int, version: int, versions: int, palette: Palette) -> str:
    """``‹ 2/3 ›`` for a turn with versions ("" for one without): ‹ shows the version before,
    › the next; at either end the arrow is drawn muted, without a link."""
    if versions <= 1:
        return ""

    def arrow(name: str, glyph: str, title: str, enabled: bool) -> str:
        # larger than the small line around it: a target a person can hit
        shown = f'<span style="font-size:x-large;"><b>&nbsp;{glyph}&nbsp;</b></span>'
        if not enabled:
            return f'<span style="color:{palette.muted};">{shown}</span>'
        return (
            f'<a href="action:{name}:{key}" title="{title}" '
            f'style="color:{palette.link}; text-decoration:none;">{shown}</a>'
        )

    return (
        arrow(OLDER, "‹", "Show the earlier version", version > 1)
        + f'<span style="color:{palette.muted};">{version}/{versions}</span>'
        + arrow(NEWER, "›", "Show the next version", version < versions)
    )


def actions_html(
    key: int, actions: Sequence[tuple[str, str]], palette: Palette, versions: str = ""
) -> str:
    """``actions``: (name, label) pairs, e.g. ("copy", "Copy"); each link is
    ``action:{name}:{key}``; ``versions``: the ‹ 2/3 › switcher, first on the line."""
    anchors = " · ".join(_link(f"action:{name}:{key}", label, palette) for name, label in actions)
    separator = " · " if versions else ""
    return f'<p style="font-size:small; margin-top:2px;">{versions}{separator}{anchors}</p>'
