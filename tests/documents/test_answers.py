"""What a chat is given from the documents: passages that fit the model, and a clear "nothing
found" (decided once, in the session) when none is relevant, with the nearest passages still
there to open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.core.chat.answer import run_answer
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.chat.session import ChatSession
from desktop.core.documents.context import budget_for, focus
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.history.store import History
from tests.documents.conftest import QUESTION

SMALL, LARGE = 135_000_000, 7_000_000_000


@pytest.fixture(scope="module")
def farm(
    minilm: Embedder, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Documents]:
    documents = Documents(tmp_path_factory.mktemp("farm") / "index.sqlite3", minilm)
    documents.add("farm", [corpus])
    documents.index("farm")
    yield documents
    documents.close()


class NoModel:
    """A responder whose model must not run: only a decided reply may come through."""

    def respond(self, request: AnswerRequest) -> Response:
        assert request.reply, "the model must not be asked"
        return Response.fixed(request.reply)


def test_a_question_the_documents_cannot_answer_gets_nothing_found(
    farm: Documents, huacaya_home: Path
) -> None:
    history = History()
    session = ChatSession(history)
    budget = budget_for(SMALL, 4096, 256)
    session.find_passages = lambda q, names: farm.passages(q, names, budget)
    session.configure(collections=["farm"])
    request = session.ask("How do I install Python packages with pip?")
    assert request.reply.startswith("I found nothing about this in “farm”.")
    answer = run_answer(session, NoModel(), request)
    assert answer.content == request.reply and answer.stats["not_found"] is True
    assert 1 <= len(answer.citations) <= 3  # the nearest passages, to open
    reopened = ChatSession(history)
    reopened.open(session.conversation_id)  # type: ignore[arg-type]
    assert reopened.messages[-1].citations == answer.citations
    history.close()


def test_a_small_model_gets_one_or_two_short_passages(farm: Documents) -> None:
    small = farm.passages(QUESTION, ["farm"], budget_for(SMALL, 4096, 256))
    assert small.found and 1 <= len(small.given) <= 2
    assert all(len(c.text) <= 400 for c in small.given)
    first = small.given[0]
    assert (Path(first.path).name, first.page) == ("farm-handbook.pdf", 2)
    assert "every November" in first.text
    large = farm.passages(QUESTION, ["farm"], budget_for(LARGE, 4096, 256))
    assert large.given[0].text.startswith(first.text[:20])


def test_budgets_grow_with_the_model_and_fit_its_context() -> None:
    small, large = budget_for(SMALL, 4096, 256), budget_for(LARGE, 8192, 512)
    assert small.count <= 2 and small.chars <= 400
    assert large.count >= 4 and large.chars >= 1000
    tight = budget_for(LARGE, 512, 256)  # a short context keeps what fits
    assert tight.count * (tight.chars + 124) <= 512 * 3


def test_a_shortened_passage_keeps_the_sentences_about_the_question() -> None:
    text = (
        "The farm has a long history. Its owners changed often. "
        "The herd is shorn every November before the rains. Fleece is sorted by colour."
    )
    start, end = focus(text, {"shorn", "herd", "month"}, 60)
    assert "shorn every November" in text[start:end] and end - start <= 60
