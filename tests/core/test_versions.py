"""Versions of a turn: Regenerate and Edit keep the earlier answers (and questions), each with
what followed it; the version shown is what the model sees next, what the history reopens,
searches and exports; databases of the previous schema and exports without versions still open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.errors import HistoryError
from desktop.core.chat.answer import run_answer
from desktop.core.chat.session import ChatSession
from desktop.core.history import export as history_export
from desktop.core.history.schema import connect, migrate
from desktop.core.history.store import History, NewMessage
from tests.core.scripted_engine import ScriptedEngine


def answer(session: ChatSession, words: str, request=None) -> None:  # type: ignore[no-untyped-def]
    run_answer(session, ScriptedEngine([words]), request)


def shown(session: ChatSession) -> list[tuple[str, str]]:
    return [(m.content, m.version_label) for m in session.messages]


def reopened(history: History, session: ChatSession) -> list[tuple[str, str]]:
    again = ChatSession(history)
    assert session.conversation_id is not None
    again.open(session.conversation_id)
    return shown(again)


def test_regenerate_keeps_the_earlier_answer_and_each_version_keeps_its_continuation(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "h.sqlite3")
    session = ChatSession(history)
    answer(session, "Llamas hum.", session.ask("What do llamas do?"))
    answer(session, "They graze.", session.regenerate())
    assert shown(session) == [("What do llamas do?", ""), ("They graze.", "2/2")]

    assert session.show_version(session.messages[1].key, -1)
    assert shown(session) == [("What do llamas do?", ""), ("Llamas hum.", "1/2")]
    assert not session.show_version(session.messages[1].key, -1)  # no version 0
    engine = ScriptedEngine(["Softly."])
    run_answer(session, engine, session.ask("How?"))
    sent = [m["content"] for m in engine.requests[0].messages]
    assert sent == ["What do llamas do?", "Llamas hum.", "How?"]  # the shown version is context
    assert reopened(history, session) == shown(session)  # kept after a restart

    assert session.show_version(session.messages[1].key, 1)  # version 2 has no continuation
    assert shown(session) == [("What do llamas do?", ""), ("They graze.", "2/2")]
    assert reopened(history, session) == shown(session)
    assert session.show_version(session.messages[1].key, -1)  # version 1's is still there
    assert [c for c, _ in shown(session)] == [
        "What do llamas do?",
        "Llamas hum.",
        "How?",
        "Softly.",
    ]

    answer(session, "Loudly.", session.regenerate())  # a version inside version 1's branch
    assert shown(session)[-1] == ("Loudly.", "2/2")
    assert session.show_version(session.messages[1].key, 1)
    assert session.show_version(session.messages[1].key, -1)
    assert shown(session)[-1] == ("Loudly.", "2/2")  # each branch remembers its own choice


def test_an_edit_is_a_new_version_of_the_question_and_the_title_follows_the_shown_one(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "h.sqlite3")
    session = ChatSession(history)
    answer(session, "A camelid.", session.ask("What is a llama?"))
    answer(session, "Smaller.", session.ask("And an alpaca?"))
    answer(session, "A wild one.", session.edit(session.messages[0].key, "What is a guanaco?"))
    assert shown(session) == [("What is a guanaco?", "2/2"), ("A wild one.", "")]
    chat = session.conversation_id
    assert chat is not None and history.get(chat).title == "What is a guanaco?"

    assert session.show_version(session.messages[0].key, -1)
    assert [c for c, _ in shown(session)] == [
        "What is a llama?",
        "A camelid.",
        "And an alpaca?",
        "Smaller.",
    ]
    assert session.messages[0].version_label == "1/2"
    assert history.get(chat).title == "What is a llama?"
    assert reopened(history, session) == shown(session)


def test_a_failed_regenerate_or_edit_makes_no_version(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    session = ChatSession(history)
    answer(session, "Hay.", session.ask("What do alpacas eat?"))
    with pytest.raises(RuntimeError):
        run_answer(session, ScriptedEngine(fail_after=0), session.regenerate())
    with pytest.raises(RuntimeError):
        run_answer(
            session, ScriptedEngine(fail_after=0), session.edit(session.messages[0].key, "?")
        )
    assert shown(session) == [("What do alpacas eat?", ""), ("Hay.", "")]
    assert session.conversation_id is not None
    assert len(history.all_messages(session.conversation_id)) == 2


def test_without_a_history_regenerate_replaces(tmp_path: Path) -> None:
    session = ChatSession(None)
    answer(session, "One.", session.ask("Count."))
    answer(session, "Two.", session.regenerate())
    assert shown(session) == [("Count.", ""), ("Two.", "")]


def test_search_finds_the_shown_version_and_deleting_the_chat_deletes_every_version(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "h.sqlite3")
    session = ChatSession(history)
    answer(session, "Quinoa and hay.", session.ask("What do alpacas eat?"))
    answer(session, "Grass mostly.", session.regenerate())
    chat = session.conversation_id
    assert chat is not None
    assert [h.conversation_id for h in history.search("grass")] == [chat]
    assert history.search("quinoa") == []  # a hidden version is not what the chat shows
    session.show_version(session.messages[1].key, -1)
    assert [h.conversation_id for h in history.search("quinoa")] == [chat]
    assert history.search("grass") == []

    history.delete(chat)
    history.purge_deleted()
    assert history.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert history.db.execute("SELECT COUNT(*) FROM messages_fts").fetchone()[0] == 0


def test_a_database_of_the_previous_schema_keeps_everything_and_takes_versions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    db = connect(path)
    migrate(db, up_to=4)
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('Old', 1, 2)")
    db.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('Other', 1, 1)")
    rows = [  # a gap in positions, as a deleted failed question left it
        (1, 0, "system", "Be brief.", '{"a": 1}'),
        (1, 1, "user", "llamas graze on quinoa", "{}"),
        (1, 3, "assistant", "Yes they do.", '{"generated_tokens": 4}'),
        (2, 0, "user", "alpacas?", "{}"),
    ]
    for chat, position, role, content, stats in rows:
        db.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at, model, "
            "stats) VALUES (?, ?, ?, ?, ?, 'smol', ?)",
            (chat, position, role, content, 10.0 + position, stats),
        )
    before = db.execute("SELECT * FROM messages ORDER BY id").fetchall()
    db.close()

    history = History(path)
    after = history.db.execute(
        "SELECT id, conversation_id, position, role, content, created_at, model, stats "
        "FROM messages ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in after] == before  # every message, as it was
    old = history.messages(1)
    assert [(m.role, m.content, m.version, m.versions) for m in old] == [
        ("system", "Be brief.", 1, 1),
        ("user", "llamas graze on quinoa", 1, 1),
        ("assistant", "Yes they do.", 1, 1),
    ]
    assert [h.conversation_id for h in history.search("quinoa")] == [1]  # the index was kept
    (new,) = history.add_version(1, old[2].id, [NewMessage("assistant", "They do.")])
    assert (new.version, new.versions) == (2, 2)
    history.add_message(1, "user", "Why?")
    assert [m.content for m in history.messages(1)][-2:] == ["They do.", "Why?"]
    assert [m.content for m in history.messages(2)] == ["alpacas?"]


def test_json_export_keeps_every_version_and_import_restores_them(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    session = ChatSession(history)
    answer(session, "Hay.", session.ask("What do alpacas eat?"))
    answer(session, "Grass.", session.regenerate())
    session.show_version(session.messages[1].key, -1)
    answer(session, "In herds.", session.ask("How do they live?"))
    answer(session, "Together.", session.regenerate())  # versions inside a version
    answer(session, "Camelids.", session.edit(session.messages[0].key, "What are alpacas?"))
    session.show_version(session.messages[0].key, -1)  # the first question's version 1 shown
    chat = session.conversation_id
    assert chat is not None

    exported = json.loads(json.dumps(history_export.export_json(history, chat)))
    first = exported["messages"][0]
    assert (first["content"], first["version"]) == ("What do alpacas eat?", 1)
    assert [m["content"] for m in first["other_versions"][0]] == ["What are alpacas?", "Camelids."]
    assert [m["content"] for m in exported["messages"]] == [c for c, _ in shown(session)]

    copy = history_export.import_json(history, exported)
    assert history_export.export_json(history, copy.id)["messages"] == exported["messages"]
    imported = ChatSession(history)
    imported.open(copy.id)
    assert shown(imported) == shown(session)
    imported.show_version(imported.messages[1].key, 1)
    assert shown(imported)[1:] == [("Grass.", "2/2")]

    markdown = history_export.export_markdown(history, chat)
    assert "## You (version 1 of 2)" in markdown and "Together." in markdown
    assert "Camelids." not in markdown  # only the versions shown


def test_exports_without_versions_import_and_bad_versions_are_named(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    old = {
        "format": history_export.EXPORT_FORMAT,
        "version": 1,
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
    }
    copy = history_export.import_json(history, old)
    assert [(m.content, m.version, m.versions) for m in copy.messages] == [
        ("Hi", 1, 1),
        ("Hello", 1, 1),
    ]
    assert copy.title == "Hi"

    def refused(message: dict, match: str) -> None:  # type: ignore[type-arg]
        data = {**old, "messages": [old["messages"][0], message]}
        with pytest.raises(HistoryError, match=match):
            history_export.import_json(history, data)

    hello = {"role": "assistant", "content": "Hello"}
    refused({**hello, "other_versions": [[{"role": "user", "content": "x"}]]}, r"\[0\]\.role")
    refused({**hello, "other_versions": [[hello]], "version": 3}, r"messages\[1\]\.version")
    refused({**hello, "other_versions": [[]]}, r"other_versions\[0\]” is not valid")
    refused({**hello, "version": 2}, r"messages\[1\]\.version")
    assert len(history.list()) == 1  # nothing of the refused ones was written


def test_a_long_branch_is_dropped_whole(tmp_path: Path) -> None:
    """Deleting a version deletes what followed it, however long (no trigger-depth limit)."""
    history = History(tmp_path / "h.sqlite3")
    chat = history.create()
    turns = [NewMessage("user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(1_500)]
    stored = history.append(chat.id, turns)
    (other,) = history.add_version(chat.id, stored[0].id, [NewMessage("user", "other")])
    history.drop_version(chat.id, other.id)
    assert len(history.messages(chat.id)) == 1_500
    history.drop_version(chat.id, stored[0].id)
    assert history.all_messages(chat.id) == []
