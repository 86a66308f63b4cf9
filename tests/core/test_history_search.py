"""Search over long, odd and hostile messages: bounded snippets, NUL bytes, lone surrogates,
fuzzed queries, and searches from another thread."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

import pytest

from desktop.core.history.store import History

LONG_MESSAGES = {
    "one word 40,000 times": "alpaca " * 40_000,
    "200 KB of x x x": "x " * 100_000,
    "10 MB of text": ("lorem ipsum dolor sit amet " * 400_000)[:10_000_000],
}


@pytest.mark.timeout(60)  # FTS5's snippet() took minutes on the 10 MB message
def test_long_messages_give_short_highlighted_snippets(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    for text in LONG_MESSAGES.values():
        store.add_message(store.create().id, "user", text)
    for word in ("alpaca", "x", "lorem"):
        (hit,) = store.search(word)
        assert f"<b>{word}</b>" in hit.snippet_html
        assert len(re.sub("<[^>]+>", "", hit.snippet_html)) < 300
    late = store.create()
    store.add_message(late.id, "user", "lorem " * 200_000 + "needle")  # past the scanned head
    (hit,) = store.search("needle")
    assert hit.conversation_id == late.id and hit.snippet_html.startswith("lorem")


def test_nul_bytes_and_lone_surrogates_are_stored_and_searched(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    chat = store.create(title="odd \ud800 title", system_prompt="\udfff")
    store.add_message(chat.id, "user", "before\x00after and a lone \ud83d surrogate")
    store.rename(chat.id, "renamed \udc00")
    [message] = store.messages(chat.id)
    assert message.content == "before\x00after and a lone \ufffd surrogate"
    assert store.get(chat.id).title == "renamed \ufffd"
    for query in ("after", "before", "surrogate", "after\x00", "\ud800 lone", "lone \x00"):
        (hit,) = store.search(query)
        assert "\x00" not in hit.snippet_html and "<b>" in hit.snippet_html, query
    rng = random.Random(17)
    alphabet = ["\x00", "\ud800", "\udfff", '"', "*", "(", ")", "^", ":", "-", "NEAR", "AND"]
    alphabet += ["after", "bef", " ", "\x01", "'", "\\", "é", "\U0001f600", "OR", "NOT", "{"]
    for _ in range(3_000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        store.search(query)  # never raises


def test_searches_run_on_another_thread_while_the_window_writes(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    chat = store.create()
    store.add_message(chat.id, "user", "llamas and alpacas")
    found: list[int] = []
    worker = threading.Thread(target=lambda: found.append(len(store.search("alpacas"))))
    worker.start()
    store.add_message(chat.id, "assistant", "alpacas hum")
    worker.join(10)
    assert found == [1]
