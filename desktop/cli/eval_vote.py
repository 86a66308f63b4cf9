"""``huacaya eval vote``: a blind vote session in the terminal (the keys, the screen, the end).

One key (then Enter) per item; everything is saved as it is typed, so quitting (``q``,
Ctrl+D, Ctrl+C) loses nothing and the same command resumes.
"""

from __future__ import annotations

import textwrap
from typing import TextIO

from desktop.core.evaluation.votes import Shown, VoteSession

KEYS = {"a": "a", "b": "b", "t": "tie", "x": "both_bad"}
HELP = "[a] A is better  [b] B is better  [t] tie  [x] both bad  [s] skip  [u] undo  " + (
    "[r] results  [q] quit"
)


def _show(shown: Shown, out: TextIO) -> None:
    item = shown.item
    again = "  (skipped before)" if shown.skipped_before else ""
    out.write(f"\n── item {shown.position} of {shown.total}{again} " + "─" * 30 + "\n")
    out.write(_wrap(item.instruction) + "\n")
    if item.input:
        out.write("\nInput:\n" + _wrap(item.input) + "\n")
    for label, text in (("A", shown.answer_a), ("B", shown.answer_b)):
        out.write(f"\n[{label}]\n{_wrap(text) or '(no answer)'}\n")
    out.write("\n" + HELP + "\n")


def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(line, 96) if line else "" for line in text.splitlines())


def run_vote(session: VoteSession, stdin: TextIO, out: TextIO) -> int:
    out.write(
        f"Blind comparison: {len(session.pairs)} items, the sides' names hidden until the "
        f"results. Votes are saved in {session.path} as you cast them.\n"
    )
    while (shown := session.current()) is not None:
        _show(shown, out)
        out.write("> ")
        out.flush()
        line = stdin.readline()
        if not line:  # end of input: like quitting
            break
        key = line.strip().lower()[:1]
        if key in KEYS:
            session.vote(KEYS[key])
        elif key == "s":
            session.skip()
        elif key == "u":
            undone = session.undo()
            out.write(f"Took back the last {undone}.\n" if undone else "Nothing to undo.\n")
        elif key == "r":
            out.write(session.results().describe() + "\n")
        elif key == "q":
            break
        else:
            out.write(f"Type one of the keys: {HELP}\n")
    results = session.results()
    if session.finished:
        out.write("\nEvery item has a vote. The sides were:\n")
    else:
        out.write(
            f"\nStopped with {results.voted} of {results.total} voted: the same command "
            "resumes. So far:\n"
        )
    out.write(results.describe() + "\n")
    return 0
