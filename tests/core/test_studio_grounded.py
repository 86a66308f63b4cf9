"""Records grounded in a document collection (core/studio/grounded.py): a collection built by
the real indexer, the teacher through data generation's real teacher classes — the loopback
OpenAI server, and once the starter GGUF (whose words are never asserted)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.errors import Cancelled, DataGenerationError, DocumentError, TeacherReplyError
from conversion.progress import CancelToken
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.documents.store import DocumentStore
from desktop.core.models.starter import STARTER_ID
from desktop.core.studio import grounded
from desktop.core.studio.grounded import generate_from_documents, source_of
from desktop.core.studio.records import StudioRecord
from tests.documents.conftest import corpus, minilm  # noqa: F401  (fixtures)
from tests.openai_server import GROUNDED_KINDS, LoopbackTeacher

LONG_NOTE = "\n\n".join(
    f"Section {n}. The cooperative's {topic} committee met on day {n} and agreed that "
    f"{detail}. Members asked for the minutes to be shared with every family before the "
    "next assembly, and the treasurer confirmed the figures in the ledger."
    for n, (topic, detail) in enumerate(
        [
            ("water", "the troughs are cleaned every Tuesday"),
            ("fencing", "the north paddock gets new posts in April"),
            ("breeding", "the white males rotate between herds each season"),
            ("market", "fleece is sold by auction in Arequipa"),
            ("training", "new herders shadow an elder for three months"),
            ("veterinary", "the clinic visit moves to the first Monday"),
        ],
        start=1,
    )
)


@pytest.fixture
def collection(corpus: Path, minilm: Embedder, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "cooperative.md").write_text(LONG_NOTE, encoding="utf-8")
    documents = Documents(embedder=minilm)
    try:
        documents.add("farm", [corpus, extra])
        documents.index("farm")
    finally:
        documents.close()
    return "farm"


def passages(name: str) -> dict[str, str]:
    """Every usable passage of the collection: its source line → its text."""
    store = DocumentStore()
    try:
        found = store.collection(name)
        ids = [i for file_ids in store.chunks_by_file(found.id).values() for i in file_ids]
        chunks = store.chunks(ids).values()
    finally:
        store.close()
    usable = [c for c in chunks if len(c.text.strip()) >= grounded.MIN_PASSAGE_CHARS]
    return {source_of(c): c.text.strip() for c in usable}


def asked_labels(server: LoopbackTeacher) -> list[str]:
    prompts = [str(body["messages"][-1]["content"]) for body in server.requests]  # type: ignore[index]
    return [re.search(r"documents \((.*?)\):", p).group(1) for p in prompts]  # type: ignore[union-attr]


@pytest.fixture
def loopback() -> Iterator[LoopbackTeacher]:
    server = LoopbackTeacher().start()
    yield server
    server.stop()


def check_grounded(records: list[StudioRecord], known: dict[str, str]) -> None:
    for record in records:
        assert record.source in known, record.source
        assert record.instruction.strip() and record.output.strip()
        assert record.input == "" and record.score is None


def test_records_keep_their_passages_and_every_reply_is_counted(
    collection: str, loopback: LoopbackTeacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grounded, "ROUNDS", 1)
    known = passages(collection)
    assert len(known) >= 8  # the premise: enough passages for every kind of reply
    messages: list[str] = []
    result = generate_from_documents(
        collection,
        "openai:loopback",
        100,  # more than the passages: every one is asked about (once: ROUNDS = 1)
        base_url=loopback.url,
        progress=lambda fraction, message="": messages.append(message),
        batch_size=4,
    )
    assert len(loopback.requests) == len(known)
    assert len(result.records) + sum(result.dropped.values()) == len(known)
    check_grounded(result.records, known)
    # The loopback's answers are made of the words of the passage it was shown.
    for record in result.records:
        words = set(re.findall(r"[A-Za-z]{4,}", known[record.source]))
        assert set(re.findall(r"[A-Za-z]{4,}", record.output)) - {"They", "that"} <= words
    # The loopback answers in a fixed cycle of kinds: each kind dropped is counted as such.
    kinds = Counter(GROUNDED_KINDS[i % len(GROUNDED_KINDS)] for i in range(len(known)))
    assert result.dropped == {
        reason: n
        for reason, n in {
            grounded.UNPARSED: kinds["prose"],
            grounded.EMPTY: kinds["empty"],
            grounded.COPIED: kinds["copy"],
            grounded.NEEDS_PASSAGE: kinds["needs"],
            "similar": kinds["same"] - 1,  # the first is kept
        }.items()
        if n
    }
    assert len(result.records) == kinds["good"] + min(kinds["same"], 1)
    instructions = [r.instruction for r in result.records]
    assert len(set(instructions)) == len(instructions)
    assert any("kept" in m and "dropped" in m and "(" in m for m in messages), messages


def test_passages_are_spread_over_the_files_and_the_count_is_kept(
    collection: str, loopback: LoopbackTeacher
) -> None:
    known = passages(collection)
    files = {source.split(",")[0].split(":")[0] for source in known}
    result = generate_from_documents(
        collection, "openai:loopback", 2, base_url=loopback.url, batch_size=len(files)
    )
    assert len(result.records) == 2
    first_batch = [label.split(",")[0] for label in asked_labels(loopback)[: len(files)]]
    assert sorted(first_batch) == sorted(files)  # one passage of every file first


def test_cancel_stops_with_what_was_kept(collection: str, loopback: LoopbackTeacher) -> None:
    cancel = CancelToken()
    batches: list[list[StudioRecord]] = []

    def after_batch(records: list[StudioRecord]) -> None:
        batches.append(records)
        cancel.cancel()

    with pytest.raises(Cancelled):
        generate_from_documents(
            collection, "openai:loopback", 100, base_url=loopback.url, batch_size=2,
            cancel=cancel, on_batch=after_batch,
        )  # fmt: skip
    assert len(batches) == 1 and len(loopback.requests) == 2


def test_clear_errors(collection: str, loopback: LoopbackTeacher, minilm: Embedder) -> None:  # noqa: F811
    with pytest.raises(DocumentError) as missing:
        generate_from_documents("nope", "openai:loopback", 3, base_url=loopback.url)
    assert "nope" in missing.value.message and "farm" in missing.value.hint
    documents = Documents(embedder=minilm)
    documents.store.create_collection("empty", minilm.name, minilm.dimensions)
    documents.close()
    with pytest.raises(DocumentError) as empty:
        generate_from_documents("empty", "openai:loopback", 3, base_url=loopback.url)
    assert "no indexed passages" in empty.value.message and "index" in empty.value.hint.lower()
    with pytest.raises(DataGenerationError) as spec:
        generate_from_documents(collection, "llama:thing", 3)
    assert spec.value.hint
    with pytest.raises(DataGenerationError) as unknown:
        generate_from_documents(collection, "gguf:no-such-model", 3)
    assert "no-such-model" in unknown.value.message and unknown.value.hint
    with pytest.raises(DataGenerationError):
        generate_from_documents(collection, "openai:loopback", 3)  # no base URL
    assert loopback.requests == []


def test_the_starter_model_as_teacher(collection: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grounded, "SAMPLING", grounded.SAMPLING.__class__(0.7, 0.95, 48))
    monkeypatch.setattr(grounded, "ROUNDS", 1)  # the 135M starter rarely follows the form:
    monkeypatch.setattr(grounded, "MAX_FAILED_REPLIES", 1000)  # every passage once, counted
    known = passages(collection)
    result = generate_from_documents(collection, f"gguf:{STARTER_ID}", 2, batch_size=3)
    check_grounded(result.records, known)
    asked = len(result.records) + sum(result.dropped.values())
    assert len(result.records) <= 2
    # Every reply is kept or counted, batch by batch, until two are kept or passages run out.
    assert asked == len(known) or (len(result.records) == 2 and asked <= len(known))


def test_cancel_stops_within_a_batch(collection: str, loopback: LoopbackTeacher) -> None:
    """A slow teacher: cancelled while the batch's replies are awaited, the run ends without
    waiting for them."""
    loopback.knobs.delay = 5.0
    cancel = CancelToken()

    def progress(fraction: float, message: str = "") -> None:
        if "replies from" in message:  # the teacher's own activity, inside the batch
            cancel.cancel()

    with pytest.raises(Cancelled):
        generate_from_documents(
            collection, "openai:loopback", 100, base_url=loopback.url, batch_size=4,
            progress=progress, cancel=cancel,
        )  # fmt: skip
    assert loopback.answered == 0


def test_later_rounds_ask_for_something_new(collection: str, loopback: LoopbackTeacher) -> None:
    """Records still missing after every passage was asked about: each is asked again, told
    what was already asked from it."""
    known = passages(collection)
    result = generate_from_documents(collection, "openai:loopback", 100, base_url=loopback.url)
    assert len(loopback.requests) == grounded.ROUNDS * len(known)
    assert len(result.records) + sum(result.dropped.values()) == len(loopback.requests)
    check_grounded(result.records, known)
    instructions = [r.instruction for r in result.records]
    assert len(set(instructions)) == len(instructions)
    first_round = {r.source: r.instruction for r in result.records[: len(known) // 2]}
    later = [str(b["messages"][-1]["content"]) for b in loopback.requests[len(known) :]]  # type: ignore[index]
    for instruction in first_round.values():
        assert any(f"already asked:\n- {instruction}" in prompt for prompt in later)


def test_a_teacher_that_stops_following_the_form(
    collection: str, loopback: LoopbackTeacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies in a row with nothing usable end the run: with what was kept and why, or, with
    nothing kept, an error saying what to do."""
    monkeypatch.setattr(grounded, "MAX_FAILED_REPLIES", 3)
    loopback.knobs.grounded_kinds = ("good", "prose", "prose", "prose")
    result = generate_from_documents(
        collection, "openai:loopback", 100, base_url=loopback.url, batch_size=1
    )
    assert len(result.records) == 1 and result.dropped == {grounded.UNPARSED: 3}
    assert "Stopped early" in result.note
    loopback.reset()
    loopback.knobs.grounded_kinds = ("prose",)
    with pytest.raises(TeacherReplyError) as error:
        generate_from_documents(collection, "openai:loopback", 100, base_url=loopback.url)
    assert "larger teacher" in error.value.hint
