"""Worker: seeded mutations of a chat export, imported the way the app imports one (read the
file, check it, write it to the history), then opened in a chat session and exported again.
Run by tests/fuzz/test_export_fuzz.py (``python -m tests.fuzz.export_cases WORK SEED COUNT``)."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.fuzz.harness import run_cases
from tests.fuzz.json_mutator import mutate_value, serialize

BASE = {
    "format": "huacaya-conversation",
    "version": 1,
    "title": "Trip planning",
    "model": "smollm2-135m-instruct",
    "system_prompt": "You are a helpful assistant.",
    "settings": {
        "prompt_format": "auto",
        "collections": ["notes"],
        "generation": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 256, "seed": 1},
    },
    "created_at": 1_700_000_000.0,
    "messages": [
        {"role": "system", "content": "Be brief.", "created_at": 1_700_000_000.0},
        {"role": "user", "content": "Where is Cusco?", "created_at": 1_700_000_001.0},
        {
            "role": "assistant",
            "content": "In **Peru**, in the Andes.\n\n```text\n3,400 m\n```",
            "created_at": 1_700_000_002.0,
            "model": "smollm2-135m-instruct",
            "stats": {"generated_tokens": 12, "tokens_per_second": 41.5},
        },
    ],
}


def cases(work: Path, seed: int, count: int) -> Iterator[tuple[str, Callable[[], str]]]:
    from desktop.core.chat.session import ChatSession
    from desktop.core.history.export import export_json, export_markdown, import_json, read_export
    from desktop.core.history.store import History

    history = History(work / "history.sqlite3")
    rng = random.Random(seed)
    for number in range(count):
        document, what = BASE, []
        for _ in range(rng.choice([1, 1, 2, 3])):
            document, change = mutate_value(document, rng)
            what.append(change)
        data, damage = serialize(document, rng)
        path = work / f"export-{number}.json"

        def case(data: bytes = data, path: Path = path) -> str:
            path.write_bytes(data)
            try:
                conversation = import_json(history, read_export(path))
            finally:
                path.unlink()
            session = ChatSession(history)
            session.open(conversation.id)
            session.prompt_messages()
            export_json(history, conversation.id)
            export_markdown(history, conversation.id).encode("utf-8")
            return "ok"

        yield f"#{number} {'; '.join(what)} {damage}".strip(), case

    def integrity() -> str:
        (result,) = history.db.execute("PRAGMA integrity_check").fetchone()
        history.close()
        if result != "ok":
            raise AssertionError(f"the history database is damaged: {result}")
        return "ok"

    yield "integrity of the history", integrity


if __name__ == "__main__":
    run_cases(cases(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
