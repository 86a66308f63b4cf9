"""History at scale: 10,000 conversations of 20 messages each.

    python benchmarks/history.py [--conversations 10000] [--messages 20]

Prints the time from creating the main window to its first paint (the sidebar filled from
this history, the model still loading in the background), to open a conversation, and to
search all messages — medians over several runs. Goals: search < 50 ms, open < 100 ms.
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
    from desktop.core.history import History

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="huacaya-bench-history-"))
    os.environ["HUACAYA_HOME"] = str(home)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from desktop.core import paths
    from desktop.core.history import DB_FILE, History

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
