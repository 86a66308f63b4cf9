"""History at scale: 10,000 conversations of 20 messages each.

    python benchmarks/history.py [--conversations 10000] [--messages 20]

Prints the time from creating the main window to its first paint (the sidebar filled from
this history, the model still loading in the background), to open a conversation, and to
search all messages — medians over several runs. Goals: search < 50 ms, open < 100 ms.

Then search among very long messages (one word 20,000 and 40,000 times, 200 KB of "x x x…", a
10 MB message), against FTS5's own snippet() on the 20,000-word one as the baseline measured in
the same run (the others take it minutes). ``--long-only`` runs just that part.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

THEMES = (
    "alpaca llama fleece andes quinoa river mountain python function model answer question "
    "capital france paris bread recipe story dragon lighthouse keeper seagull ocean garden"
).split()
SYLLABLES = "ka lo mi ne ru sa ti vo pe da gu ri no ha be zu fo".split()
# A vocabulary of ~5,000 words, as varied as real chats, plus a few common themes.
WORDS = THEMES + sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})
SEARCH_GOAL_MS, OPEN_GOAL_MS = 50, 100


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def fill(path: Path, conversations: int, messages: int) -> None:
    from desktop.core.history.store import History

    rng = random.Random(7)
    store = History(path)
    db = store.db
    now = time.time()
    db.execute("BEGIN")
    for c in range(conversations):
        stamp = now - (conversations - c) * 60
        cursor = db.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
            (sentence(rng, 6), stamp, stamp),
        )
        rows = [
            (
                cursor.lastrowid,
                i,
                "user" if i % 2 == 0 else "assistant",
                sentence(rng, 12 if i % 2 == 0 else 60),
                stamp,
            )
            for i in range(messages)
        ]
        db.executemany(
            "INSERT INTO messages (conversation_id, position, role, content, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("COMMIT")
    store.close()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


LONG_MESSAGES = {
    "one word ×20,000": ("alpaca " * 20_000, "alpaca"),
    "one word ×40,000": ("llama " * 40_000, "llama"),
    '200 KB of "x x x…"': ("x " * 100_000, "x"),
    "10 MB message": (("lorem ipsum dolor sit amet " * 400_000)[:10_000_000], "lorem"),
    "10 MB message, word at its end": ("dolor " * 1_700_000 + "needle", "needle"),
}


def long_message_searches(runs: int) -> None:
    from desktop.core.history.search import fts_query
    from desktop.core.history.store import History

    store = History(Path(tempfile.mkdtemp(prefix="huacaya-bench-long-")) / "h.sqlite3")
    for text, _word in LONG_MESSAGES.values():
        store.add_message(store.create().id, "user", text)
    store.add_message(store.create().id, "user", "a NUL\x00byte and a lone \ud800 surrogate")
    t = time.perf_counter()
    store.db.execute(
        "SELECT snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts "
        "WHERE messages_fts MATCH ?",
        (fts_query("alpaca"),),
    ).fetchall()
    baseline = time.perf_counter() - t
    print(f"{'FTS5 snippet(), one word ×20,000':<42}{baseline * 1000:>9.1f} ms   (baseline)")
    for label, (_text, word) in LONG_MESSAGES.items():
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            hits = store.search(word)
            samples.append(time.perf_counter() - t)
            assert hits, label
        ms = median_ms(samples)
        ratio = f"   {baseline * 1000 / ms:,.0f}× faster" if "20,000" in label else ""
        print(
            f"{'search: ' + label:<42}{ms:>9.1f} ms   goal < {SEARCH_GOAL_MS} ms: "
            f"{'ok' if ms < SEARCH_GOAL_MS else 'MISSED'}{ratio}"
        )
    for query in ("NUL\x00", "\ud800 lone", '"*('):
        store.search(query)  # raised before
    print("queries with a NUL byte, a lone surrogate, FTS5 syntax: no error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--long-only", action="store_true", help="only the long messages")
    args = parser.parse_args()
    if args.long_only:
        long_message_searches(args.runs)
        return 0
    home = Path(tempfile.mkdtemp(prefix="huacaya-bench-history-"))
    os.environ["HUACAYA_HOME"] = str(home)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from desktop.core import paths
    from desktop.core.history.store import DB_FILE, History

    started = time.perf_counter()
    fill(paths.data_dir() / DB_FILE, args.conversations, args.messages)
    print(
        f"filled {args.conversations:,} conversations × {args.messages} messages "
        f"in {time.perf_counter() - started:.1f} s"
    )

    from PySide6.QtCore import QEventLoop, QTimer

    from desktop.ui.app import create_application
    from desktop.ui.main_window import MainWindow

    app = create_application()
    started = time.perf_counter()
    window = MainWindow()
    window.show()
    app.processEvents()
    first_paint = time.perf_counter() - started
    loop = QEventLoop()
    window.model_ready.connect(lambda _info: loop.quit())
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()

    store = History(paths.data_dir() / DB_FILE)
    rng = random.Random(3)
    ids = [c.id for c in store.list(limit=args.conversations)]
    opens, searches, store_opens = [], [], []
    for _ in range(args.runs):
        target = rng.choice(ids)
        t = time.perf_counter()
        window.open_conversation(target)
        app.processEvents()
        opens.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.get(target, with_messages=True)
        store_opens.append(time.perf_counter() - t)
        query = " ".join(rng.sample(THEMES, 2))  # common words: the hardest case
        t = time.perf_counter()
        store.search(query)
        searches.append(time.perf_counter() - t)
    window.close()

    print(f"{'first paint of the window':<42}{first_paint * 1000:>9.1f} ms")
    print(
        f"{'open a conversation (window, rendered)':<42}{median_ms(opens):>9.1f} ms"
        f"   goal < {OPEN_GOAL_MS} ms: {'ok' if median_ms(opens) < OPEN_GOAL_MS else 'MISSED'}"
    )
    print(f"{'  of which reading it from SQLite':<42}{median_ms(store_opens):>9.1f} ms")
    print(
        f"{'search all messages (FTS5, 2 words)':<42}{median_ms(searches):>9.1f} ms"
        f"   goal < {SEARCH_GOAL_MS} ms: "
        f"{'ok' if median_ms(searches) < SEARCH_GOAL_MS else 'MISSED'}"
    )
    long_message_searches(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
