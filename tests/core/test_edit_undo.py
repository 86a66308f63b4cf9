"""Editing a question replaces it and every later turn; the edit can be undone until the chat
changes again, and the chat's automatic title follows its first question both ways."""

from __future__ import annotations

import pytest

from desktop.core.chat.answer import run_answer
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import History
from desktop.core.history.titles import TITLE_LENGTH, automatic_title, is_automatic
from tests.core.scripted_engine import ScriptedEngine


def stored(history: History, session: ChatSession) -> list[tuple[str, str, float]]:
    assert session.conversation_id is not None
    return [(m.role, m.content, m.created_at) for m in history.messages(session.conversation_id)]


def chat_of_two_turns(history: History) -> ChatSession:
    session = ChatSession(history)
    for question in ("What is a llama?", "And an alpaca?"):
        run_answer(session, ScriptedEngine(), session.ask(question))
    return session


def test_an_edit_of_the_first_question_can_be_undone_exactly() -> None:
    history = History()
    session = chat_of_two_turns(history)
    before = stored(history, session)
    edit = session.edit(session.messages[0].key, "What is a vicuña?")
    run_answer(session, ScriptedEngine(), edit)
    assert session.messages[0].content == "What is a vicuña?"
    assert len(stored(history, session)) == 2  # the later turns were replaced…
    assert session.edit_to_undo == 4  # …and can be put back
    assert history.get(session.conversation_id).title == "What is a vicuña?"  # title follows

    session.undo_edit()
    assert stored(history, session) == before  # the same turns, with their times
    assert [m.content for m in session.messages] == [c for _r, c, _t in before]
    assert all(m.id is not None for m in session.messages)  # saved: editable again
    assert history.get(session.conversation_id).title == "What is a llama?"
    assert session.edit_to_undo == 0
    with pytest.raises(ValueError, match="no edit"):
        session.undo_edit()


def test_the_undo_ends_when_the_chat_changes_and_a_chosen_title_stays() -> None:
    history = History()
    session = chat_of_two_turns(history)
    assert session.conversation_id is not None
    history.rename(session.conversation_id, "Camelids")
    run_answer(session, ScriptedEngine(), session.edit(session.messages[0].key, "Vicuñas?"))
    assert history.get(session.conversation_id).title == "Camelids"  # the person's name stays
    run_answer(session, ScriptedEngine(), session.ask("Guanacos?"))
    assert session.edit_to_undo == 0  # a new question: the edit is part of the chat now


def test_an_edit_of_a_later_question_keeps_the_title_and_a_failed_one_offers_no_undo() -> None:
    history = History()
    session = chat_of_two_turns(history)
    run_answer(session, ScriptedEngine(), session.edit(session.messages[2].key, "And a guanaco?"))
    assert history.get(session.conversation_id).title == "What is a llama?"
    assert session.edit_to_undo == 2
    with pytest.raises(RuntimeError):
        run_answer(
            session, ScriptedEngine(fail_after=1), session.edit(session.messages[2].key, "Hm?")
        )
    assert session.edit_to_undo == 0
    assert session.messages[2].content == "And a guanaco?"  # put back by the failure


def test_automatic_titles_end_at_a_word_without_an_ellipsis() -> None:
    question = "Please explain   in detail\nhow the Stanford Alpaca recipe fine-tunes LLaMA on data"
    title = automatic_title(question)
    assert not title.endswith("…") and len(title) <= TITLE_LENGTH
    assert question.replace("   ", " ").replace("\n", " ").startswith(title)
    assert question.split()[len(title.split()) - 1] == title.split()[-1]  # a whole last word
    assert automatic_title("x" * 500) == "x" * TITLE_LENGTH  # one long word is cut
    assert automatic_title("Short one?") == "Short one?"
    older = " ".join(question.split())[: TITLE_LENGTH - 1].rstrip() + "…"  # as stored before
    assert is_automatic(older, question) and is_automatic(title, question)
    assert not is_automatic("Alpaca notes", question)
