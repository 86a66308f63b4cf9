"""Search finds what the user typed: codes with hyphens, dots, slashes and underscores (whole
and by their parts), numbers with and without thousands separators, a rare number inside a
natural question; with the real embedding model, so the fusion with vectors is what it is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.documents.terms import analyse, fts_terms, index_terms

CODES = {
    "registry.txt": "Hualla. The registry code of the village is Q731-B. A market on Sundays.",
    "weather.txt": "Code E.182.7 means the humidity sensor is out of range; dry the sensor.",
    "loom.txt": "Code F35/E means the shuttle jammed; remove the shuttle and clean the race.",
    "router.txt": "Code RX_TEMP_11 means the radio router is too hot; move it into the shade.",
    "invoice.txt": "Invoice INV-2024-0031 was issued to Rosa Apaza for 12,480 soles of fibre.",
    "census.txt": "At the 2011 census, Pallca had 48250 inhabitants and a new school.",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files above among 150 look-alikes: villages founded in other years, codes that
    share parts with the ones asked for (Q731-C, Q732-B, E.182.3, INV-2024-0032…): more
    chunks than the vectors' top 50, as in a real collection."""
    folder = tmp_path_factory.mktemp("codes")
    rng = random.Random(7)
    years = [y for y in range(1300, 1900) if y != 1342]
    for i in range(150):
        year = years[i * 3]
        (folder / f"village{i:02d}.txt").write_text(
            f"Village {i}. The village of Pueblo{i} was founded in {year} by a family of "
            f"herders. The registry code of the village is Q7{rng.randint(32, 99)}-"
            f"{rng.choice('ABCDE')}, and code Q731-{'CDEF'[i % 4]} was its old one. "
            f"Code E.182.{i % 7 + 1} is on its weather station. Invoice INV-2024-{i + 32:04d} "
            f"paid {i + 11},{i + 100} soles.\n"
        )
    (folder / "founded.txt").write_text(
        "Old town. The place was founded in 1342 by monks who built a bridge over the river."
    )
    for name, text in CODES.items():
        (folder / name).write_text(text + "\n")
    return folder


@pytest.fixture(scope="module")
def docs(corpus: Path, minilm: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Documents:
    documents = Documents(tmp_path_factory.mktemp("index") / "index.sqlite3", minilm)
    documents.add("codes", [corpus])
    documents.index("codes")
    yield documents
    documents.close()


def first_file(docs: Documents, query: str, method: str = "hybrid") -> str:
    hits = docs.search(["codes"], query, 5, method)  # type: ignore[arg-type]
    return Path(hits[0].chunk.path).name if hits else ""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Q731-B", "registry.txt"),  # hyphen: the whole code, alone
        ("q731-b", "registry.txt"),
        ("Q731B", "registry.txt"),  # written without its hyphen
        ("Which village has the registry code Q731-B?", "registry.txt"),
        ("E.182.7", "weather.txt"),  # dots
        ("What should I do when the display shows F35/E?", "loom.txt"),  # slash
        ("RX_TEMP_11", "router.txt"),  # underscores
        ("INV-2024-0031", "invoice.txt"),
        ("2024-0031", "invoice.txt"),  # a part of a longer code
    ],
)
def test_a_code_ranks_the_chunk_holding_it_first(
    docs: Documents, query: str, expected: str
) -> None:
    assert first_file(docs, query) == expected


def test_a_code_still_matches_by_its_parts(docs: Documents) -> None:
    hits = docs.search(["codes"], "Q731", 20, "fts")
    files = {Path(h.chunk.path).name for h in hits}
    assert "registry.txt" in files and len(files) > 5  # every Q731-x holds it


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Which place was founded in 1342?", "founded.txt"),  # a rare number in a question
        ("Who was billed 12480 soles?", "invoice.txt"),  # the document writes 12,480
        ("Which village had 48,250 inhabitants?", "census.txt"),  # the document writes 48250
        ("12,480", "invoice.txt"),
    ],
)
def test_a_rare_number_ranks_the_chunk_holding_it_first(
    docs: Documents, query: str, expected: str
) -> None:
    assert first_file(docs, query) == expected


def test_terms_of_questions_and_chunks() -> None:
    assert fts_terms("Which place was founded in 1342?") == ["place", "founded", "1342"]
    assert index_terms("code Q731-B, paid 12,480.00 soles") == "q731b 12480"
    assert "inv20240031" in index_terms("INV-2024-0031") and "20240031" in index_terms(
        "INV-2024-0031"
    )
    assert index_terms("pi is 3.14") == ""  # a decimal is not a code
    terms = analyse("What does Gertrude Vanderbilt do with ERR-9931?")
    assert terms.identifiers == ("err9931", "gertrude", "vanderbilt")
    assert "err9931" in terms.anchors and "what" not in terms.words
