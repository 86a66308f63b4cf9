"""The conversation store: migrations, crash safety, search, export and import."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.errors import HistoryError
from desktop.core.history import export as history_export
from desktop.core.history import store as history
from desktop.core.history.store import History, NewMessage, migrate
from desktop.core.history.titles import automatic_title

ROOT = Path(__file__).resolve().parents[2]


def test_empty_database_gets_every_migration(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    versions = [r[0] for r in store.db.execute("SELECT version FROM schema_migrations")]
    assert versions == [v for v, _, _ in history.MIGRATIONS]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("start", [v for v, _, _ in history.MIGRATIONS[:-1]])
def test_every_earlier_version_upgrades_with_its_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.sqlite3"
    db = history.connect(path)
    migrate(db, up_to=start)
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('Old', 1, 1)")
    db.execute(
        "INSERT INTO messages (conversation_id, position, role, content, created_at) "
        "VALUES (1, 0, 'user', 'llamas graze on quinoa', 1)"
    )
    db.close()
    store = History(path)
    assert [c.title for c in store.list()] == ["Old"]
    assert [h.conversation_id for h in store.search("quinoa")] == [1]
    assert migrate(store.db) == []  # idempotent


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    History(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer Huacaya"):
        History(path)


def test_conversation_lifecycle_and_titles(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    first = store.create(model="smol")
    store.add_message(first.id, "user", "  What is the   capital of France?\nThanks")
    store.add_message(first.id, "assistant", "Paris.", model="smol", stats={"tokens": 3})
    second = store.create()
    store.add_message(second.id, "user", "x" * 200)
    listed = store.list()
    assert [c.id for c in listed] == [second.id, first.id]  # newest first
    assert listed[1].title == "What is the capital of France? Thanks"
    assert listed[0].title == "x" * history.TITLE_LENGTH  # stored whole-word or cut, no "…"
    store.rename(first.id, "Capitals")
    assert store.get(first.id).title == "Capitals"
    messages = store.messages(first.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].stats == {"tokens": 3} and messages[1].model == "smol"
    store.add_version(first.id, messages[1].id, [NewMessage("assistant", "Paris!", "smol")])
    assert [(m.role, m.content, m.version, m.versions) for m in store.messages(first.id)] == [
        ("user", messages[0].content, 1, 1),
        ("assistant", "Paris!", 2, 2),
    ]
    store.delete_message(messages[0].id)  # a message goes with what followed it
    assert store.messages(first.id) == [] and store.all_messages(first.id) == []


def test_delete_undo_and_purge(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    conversation = store.create()
    store.add_message(conversation.id, "user", "remember the alpacas")
    store.delete(conversation.id)
    assert store.list() == [] and store.search("alpacas") == []
    store.restore(conversation.id)
    assert [c.id for c in store.list()] == [conversation.id]
    store.delete(conversation.id)
    assert store.purge_deleted() == 1
    assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_search_finds_questions_and_answers_and_highlights(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    a = store.create()
    store.add_message(a.id, "user", "Tell me about <b>alpacas</b> and their fleece")
    store.add_message(a.id, "assistant", "Alpacas are camelids; their fleece is soft.")
    b = store.create()
    store.add_message(b.id, "user", "What is quantum tunnelling?")
    (hit,) = store.search("fleece")  # one hit per chat: its newest matching message
    assert (hit.conversation_id, hit.snippet_html) == (
        a.id,
        "Alpacas are camelids; their <b>fleece</b> is soft.",
    )
    assert [h.conversation_id for h in store.search("tunnel")] == [b.id]  # prefixes match
    (hit,) = store.search("tell alpacas")  # only the question has both words
    assert "&lt;b&gt;" in hit.snippet_html and "<b>alpacas</b>" in hit.snippet_html
    c = store.create()
    store.add_message(c.id, "user", "**Bold** and `code` about alpacas")
    (hit,) = store.search("bold")
    assert hit.snippet_html == "<b>Bold</b> and code about alpacas"  # no Markdown marks
    assert store.search('"unbalanced') == [] and store.search("  ") == []


def test_export_markdown_and_json_round_trip(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite3")
    c = store.create(model="smol", system_prompt="Be brief.", settings={"temperature": 0.2})
    store.add_message(c.id, "user", "Name a fruit.")
    store.add_message(c.id, "assistant", "```python\nprint('apple')\n```", model="smol")
    markdown = history_export.export_markdown(store, c.id)
    assert markdown.startswith("# Name a fruit.") and "```python" in markdown
    data = json.loads(json.dumps(history_export.export_json(store, c.id)))
    copy = history_export.import_json(store, data)
    assert copy.id != c.id
    assert [(m.role, m.content, m.model) for m in copy.messages] == [
        (m.role, m.content, m.model) for m in store.messages(c.id)
    ]
    assert (copy.system_prompt, copy.settings) == ("Be brief.", {"temperature": 0.2})
    with pytest.raises(HistoryError, match="not a Huacaya conversation"):
        history_export.import_json(store, {"messages": []})
    with pytest.raises(HistoryError, match=r"messages\[0\]\.role” is not valid"):
        history_export.import_json(
            store, {"format": history_export.EXPORT_FORMAT, "messages": [{"role": "x"}]}
        )


WRITER = """
import sys
sys.path.insert(0, {root!r})
from desktop.core.history.store import History
store = History(__import__("pathlib").Path({path!r}))
conversation = store.create()
i = 0
while True:
    store.add_message(conversation.id, "user", f"message {{i}} " + "words " * 50)
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_writes_keeps_every_committed_message(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    committed = -1
    for line in writer.stdout:
        committed = int(line)
        if committed >= 200:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    store = History(path)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    contents = [m.content for m in store.messages(1)]
    assert len(contents) >= committed + 1
    assert all(f"message {i} " in contents[i] for i in range(committed + 1))
    assert len(store.search("message")) > 0


def test_titles_stored_with_an_ellipsis_by_earlier_versions_lose_it(tmp_path: Path) -> None:
    question = "Please list three colours that alpacas come in, and where each is most common"
    path = tmp_path / "old.sqlite3"
    db = history.connect(path)
    migrate(db, up_to=3)
    for title in (
        question[:59].rstrip() + "…",  # what earlier versions made of the first question
        "My notes on alpacas…",  # a name the person gave
    ):
        db.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, 1, 1)", (title,)
        )
        db.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at) "
            "VALUES (last_insert_rowid(), 0, 'user', ?, 1)",
            (question,),
        )
    db.close()
    titles = sorted(c.title for c in History(path).list())
    assert titles == ["My notes on alpacas…", automatic_title(question)]
    assert not automatic_title(question).endswith("…")
