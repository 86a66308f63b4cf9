"""One answer for a conversation, the same way for every front end.

:func:`run_answer` is the chat loop: the session asks, the engine responds, each piece of text is
recorded by the session and shown, and the answer is saved — a stopped one too, kept as far as it
came and marked stopped — or, when anything fails, the conversation is put back as it was. The
terminal chat and the local API call it as it is. The window runs the same steps split across two
threads (its engine thread iterates the :class:`Response`; its GUI thread, which owns the
session, takes the deltas and the finished response by signal): ``desktop/ui/chat/conversation.py``
calls :func:`record_delta`, then :meth:`ChatSession.finish` or :meth:`ChatSession.fail`, exactly
as this loop does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.chat.session import ChatMessage, ChatSession


class Responder(Protocol):
    """What answers a request: the chat engine (or a stand-in in tests)."""

    def respond(self, request: AnswerRequest) -> Response: ...


def record_delta(session: ChatSession, delta: str, show: Callable[[str], object]) -> None:
    """A piece of the answer: the session keeps it, and what is worth showing is shown."""
    shown = session.add_delta(delta)
    if shown:
        show(shown)


def run_answer(
    session: ChatSession,
    engine: Responder,
    request: AnswerRequest,
    show: Callable[[str], object] = lambda text: None,
) -> ChatMessage:
    """Answer ``request`` (from ``session.ask``, ``regenerate`` or ``edit``) with ``engine``,
    showing the text through ``show`` as it comes. Returns the saved answer; on any failure
    (``KeyboardInterrupt`` included) the session is rolled back and the error re-raised."""
    try:
        response = engine.respond(request)
        for delta in response:
            record_delta(session, delta, show)
    except BaseException:
        session.fail()
        raise
    return session.finish(response)
