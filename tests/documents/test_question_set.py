"""The benchmark's own question set (benchmarks/documents_questions.py), indexed with the real
embedding model: every code and number question finds the one file holding it first, and
questions the documents cannot answer get "nothing found" rather than the nearest passages."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.documents_questions import Question, write
from desktop.core.documents.context import budget_for
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents


@pytest.fixture(scope="module")
def indexed(
    minilm: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Documents, list[Question]]:
    folder = tmp_path_factory.mktemp("question-set")
    asked = write(folder / "files")
    documents = Documents(folder / "index.sqlite3", minilm)
    documents.add("set", [folder / "files"])
    documents.index("set")
    yield documents, asked
    documents.close()


@pytest.mark.parametrize("kind", ["code", "number"])
def test_the_file_holding_a_code_or_number_comes_first(
    indexed: tuple[Documents, list[Question]], kind: str
) -> None:
    documents, asked = indexed
    wrong = []
    for question in (q for q in asked if q.kind == kind):
        hits = documents.search(["set"], question.text, 3)
        if Path(hits[0].chunk.path).name != question.file:
            wrong.append((question.text, [Path(h.chunk.path).name for h in hits]))
    assert wrong == []


# Off-topic (best similarity far below the threshold), or about a code, a year or a name that
# no document holds: decided without depending on how close two similarities are.
UNANSWERABLE = [
    "Who wrote the novel War and Peace?",
    "How do I install Python packages with pip?",
    "What programming language is used to write Android apps?",
    "What does error code ERR-9931 mean?",
    "Who was billed on invoice INV-2019-0999?",
    "Q118-Z",
    "Which village was founded in 1901?",
    "What does Gertrude Vanderbilt do at the cooperative?",
    "What is the capital city of Mongolia?",
    "Which football team won the 1998 World Cup?",  # 1998 is in the documents, but as a year
]


def test_what_the_documents_cannot_answer_is_not_found(
    indexed: tuple[Documents, list[Question]],
) -> None:
    documents, asked = indexed
    budget = budget_for(135_000_000, 4096, 256)
    answered = [q for q in UNANSWERABLE if documents.passages(q, ["set"], budget).found]
    assert answered == []
    missed = [
        q.text
        for q in asked
        if q.kind in ("code", "number", "name")
        and q.file
        not in {Path(c.path).name for c in documents.passages(q.text, ["set"], budget).given}
    ]
    assert missed == []  # answerable lookups keep their passage
    nearest = documents.passages(UNANSWERABLE[3], ["set"], budget).nearest
    assert nearest and len(nearest) <= 3  # what the user can still open


def test_the_tuning_set_is_another_corpus_with_every_kind() -> None:
    """The search's constants are chosen on the tuning set (benchmarks/documents_tuning.py):
    it must hold every kind of question, and share no file or question with the benchmark's
    set, which only reports them."""
    from benchmarks import documents_questions, documents_tuning
    from benchmarks.documents_questions import KINDS

    files, asked = documents_tuning.build()
    bench_files, bench_asked = documents_questions.build()
    assert {kind: sum(q.kind == kind for q in asked) for kind in KINDS} == dict.fromkeys(KINDS, 25)
    assert not set(files) & set(bench_files)
    assert not {q.text for q in asked} & {q.text for q in bench_asked}
    for question in asked:
        assert question.kind == "unanswerable" or question.file in files, question
    assert len({q.text for q in asked}) == len(asked)  # no question asked twice
