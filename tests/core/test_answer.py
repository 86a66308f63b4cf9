"""One answer, the same way for every front end: ``run_answer`` (terminal, API) and the window's
controller follow the same steps, so a behaviour decided in the core is everyone's."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from desktop.cli.chat import TerminalChat
from desktop.core.chat.answer import run_answer
from desktop.core.chat.message import STOPPED, ChatMessage
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import History
from desktop.core.models.library import ModelEntry
from desktop.core.settings import GenerationSettings
from desktop.server.protocol import InputMessage
from desktop.server.work import chat_work
from desktop.server.worker import Delta, Finished, Job
from tests.core.scripted_engine import ScriptedEngine

QUESTION = "Say hello."


def test_run_answer_records_shows_and_saves_the_answer() -> None:
    history = History()
    session = ChatSession(history)
    shown: list[str] = []
    answer = run_answer(session, ScriptedEngine(), session.ask(QUESTION), shown.append)
    assert shown == ["Hello", ",", " world", "."]  # the opening space is not shown…
    assert answer.content == "Hello, world."  # …nor kept
    assert answer.stats["finish_reason"] == "stop" and answer.stats["generated_tokens"] == 4
    assert session.conversation_id is not None
    stored = history.messages(session.conversation_id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", QUESTION),
        ("assistant", answer.content),
    ]


def test_a_stopped_answer_is_kept_as_far_as_it_came_and_marked() -> None:
    session = ChatSession(History())
    answer = run_answer(session, ScriptedEngine(cancel_after=2), session.ask(QUESTION))
    assert answer.content == "Hello,"
    assert answer.ending == STOPPED and STOPPED in answer.note


def test_a_failed_answer_puts_the_conversation_back() -> None:
    history = History()
    session = ChatSession(history)
    with pytest.raises(RuntimeError, match="failed, as asked"):
        run_answer(session, ScriptedEngine(fail_after=2), session.ask(QUESTION))
    assert session.messages == [] and not session.answering
    assert session.conversation_id is None and history.list() == []


def test_the_request_carries_the_prompt_format_and_the_window_anchor() -> None:
    engine = ScriptedEngine()
    session = ChatSession(None)
    session.configure(prompt_format="alpaca")
    run_answer(session, engine, session.ask(QUESTION))
    assert engine.requests[-1].prompt_format == "alpaca"
    session.window_anchor = ("user", QUESTION)
    run_answer(session, engine, session.ask("Again."))
    assert engine.requests[-1].window_anchor == ("user", QUESTION)


# -- the same behaviour in every front end --------------------------------------------------


def terminal(engine: ScriptedEngine) -> ChatMessage:
    out = io.StringIO()
    chat = TerminalChat(engine, ChatSession(None), out=out, err=io.StringIO())  # type: ignore[arg-type]
    chat.ask(QUESTION)
    answer = chat.session.messages[-1]
    assert out.getvalue() == answer.content + "\n"  # shown = kept
    return answer


def api(engine: ScriptedEngine) -> ChatMessage:
    class Worker:
        @contextmanager
        def using(self, entry: ModelEntry) -> Iterator[ScriptedEngine]:
            yield engine

    class Events:
        def __init__(self) -> None:
            self.seen: list[object] = []

        def put(self, event: object) -> None:
            self.seen.append(event)

    entry = ModelEntry(id="scripted", name="Scripted", source="file", location="scripted.gguf")
    messages = [InputMessage(role="user", content=QUESTION)]
    work = chat_work(entry, messages, GenerationSettings(), [], False)
    events = Events()
    work(Worker(), Job(work, events))  # type: ignore[arg-type]
    text = "".join(e.text for e in events.seen if isinstance(e, Delta))
    finished = next(e for e in events.seen if isinstance(e, Finished))
    assert text == finished.content  # streamed = complete
    return ChatMessage("assistant", finished.content, stats=finished.stats)


FRONT_ENDS: dict[str, Callable[[ScriptedEngine], ChatMessage]] = {"terminal": terminal, "api": api}


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_every_front_end_keeps_the_same_answer(front_end: str) -> None:
    answer = FRONT_ENDS[front_end](ScriptedEngine())
    assert answer.content == "Hello, world."
    assert answer.stats["finish_reason"] == "stop"


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_behaviour_changed_in_the_core_changes_in_every_front_end(
    front_end: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session decides what of the streamed text is kept: change that decision once and
    every front end follows (the window's part of this is tests/ui/test_one_answer_path.py)."""
    original = ChatSession.add_delta
    monkeypatch.setattr(ChatSession, "add_delta", lambda self, text: original(self, text.upper()))
    assert FRONT_ENDS[front_end](ScriptedEngine()).content == "HELLO, WORLD."
