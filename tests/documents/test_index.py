"""The indexer's bookkeeping (with a fake embedder, so it is about what is re-read, not how
well it is embedded): incremental rescans, deletions, failures, cancel and resume; fusion."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from conversion.errors import Cancelled, DocumentError
from conversion.progress import CancelToken
from desktop.core.documents import fulltext as fulltext_module
from desktop.core.documents import indexer as indexer_module
from desktop.core.documents import watcher as watcher_module
from desktop.core.documents.library import Documents
from desktop.core.documents.retrieval import fts_terms, reciprocal_rank_fusion
from desktop.core.documents.watcher import FolderWatcher
from tests.documents.conftest import FakeEmbedder


def make_folder(root: Path, count: int = 4) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / f"file{i}.txt").write_text(f"File number {i} mentions the word alpha{i}.\n" * 5)
    return root


@pytest.fixture
def docs(tmp_path: Path, fake_embedder: FakeEmbedder) -> Documents:
    documents = Documents(tmp_path / "index.sqlite3", fake_embedder)  # type: ignore[arg-type]
    yield documents
    documents.close()


def bump_mtime(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def test_rescan_reads_only_what_changed(
    docs: Documents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "notes")
    docs.add("notes", [folder])
    first = docs.index("notes")
    assert len(first.indexed) == 4 and first.chunks == 4
    embedder: FakeEmbedder = docs.embedder  # type: ignore[assignment]
    embedder.embedded.clear()

    hashed: list[Path] = []
    real_fingerprint = indexer_module.fingerprint

    def spy(path: Path, with_hash: bool = False):  # type: ignore[no-untyped-def]
        if with_hash:
            hashed.append(path)
        return real_fingerprint(path, with_hash)

    monkeypatch.setattr(indexer_module, "fingerprint", spy)
    again = docs.index("notes")
    assert (again.indexed, again.unchanged, embedder.embedded) == ([], 4, [])
    assert hashed == []  # unchanged size and time: not even read

    bump_mtime(folder / "file0.txt")  # touched, same content: hashed, not re-embedded
    (folder / "file1.txt").write_text("Completely new words: omega.")
    bump_mtime(folder / "file1.txt")
    (folder / "file2.txt").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "new.md").write_text("# New\nA fresh note about beta.")
    (folder / ".hidden.txt").write_text("never indexed")
    report = docs.index("notes")
    assert sorted(Path(p).name for p in report.indexed) == ["file1.txt", "new.md"]
    assert [Path(p).name for p in report.removed] == ["file2.txt"]
    assert report.unchanged == 2
    assert sorted(p.name for p in hashed) == ["file0.txt", "file1.txt", "new.md"]
    assert sorted(embedder.embedded) == [
        "# New\nA fresh note about beta.",
        "Completely new words: omega.",
    ]
    found = {Path(h.chunk.path).name for h in docs.search(["notes"], "omega", 3, "fts")}
    assert found == {"file1.txt"}
    assert not docs.search(["notes"], "alpha2", 3, "fts")  # the deleted file's chunks are gone
    collection = docs.collection("notes")
    assert (collection.files, collection.chunks) == (4, 4)


def test_a_run_says_what_it_did_in_words(docs: Documents, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "one", 1)
    docs.add("one", [folder])
    said = docs.index("one").describe()
    assert said.startswith("1 file indexed (1 chunk, ")  # not "1 files", "1 chunks"
    assert said.endswith(" chunks/s), 0 unchanged, 0 removed, 0 cannot be read.")
    (folder / "file1.txt").write_text("Another note.")
    assert docs.index("one").describe().startswith("1 file indexed (1 chunk, ")


def test_unreadable_listed_and_missing_folder_kept(docs: Documents, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "a", 2)
    (folder / "bad.txt").write_bytes(b"\x00\x00binary")
    other = make_folder(tmp_path / "b", 1)
    docs.add("c", [folder, other])
    report = docs.index("c")
    assert [(Path(p).name, "binary" in r) for p, r in report.unreadable] == [("bad.txt", True)]
    assert [Path(r.path).name for r in docs.unreadable("c")] == ["bad.txt"]

    other.rename(tmp_path / "unplugged")
    report = docs.index("c")
    assert report.missing_sources == [str(other)]
    assert report.removed == []  # an unplugged disk does not empty the collection
    assert docs.collection("c").files == 3
    with pytest.raises(DocumentError, match="does not exist"):
        docs.add("c", [tmp_path / "nowhere"])


def test_a_file_changed_while_read_is_skipped_then_indexed(
    docs: Documents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "n", 2)
    real_parse = indexer_module.parsers.parse

    def parse_while_someone_writes(path: Path, cancel: CancelToken):  # type: ignore[no-untyped-def]
        pages = real_parse(path, cancel)
        if path.name == "file0.txt":
            path.write_text("Edited while being indexed.")
            bump_mtime(path)
        return pages

    monkeypatch.setattr(indexer_module.parsers, "parse", parse_while_someone_writes)
    docs.add("n", [folder])
    report = docs.index("n")
    assert [(Path(p).name, r) for p, r in report.skipped] == [
        ("file0.txt", "it changed while it was read")
    ]
    monkeypatch.setattr(indexer_module.parsers, "parse", real_parse)
    assert [Path(p).name for p in docs.index("n").indexed] == ["file0.txt"]
    assert docs.search(["n"], "edited", 1, "fts")[0].chunk.text == "Edited while being indexed."


def test_cancel_keeps_what_was_done_and_resumes(docs: Documents, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "n", 6)
    docs.add("n", [folder])
    cancel = CancelToken()
    seen = []

    def stop_after_two(status) -> None:  # type: ignore[no-untyped-def]
        seen.append(status)
        if status.files_done == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        docs.index("n", cancel=cancel, on_status=stop_after_two)
    # Cancel came while the third file was read: the three files read are stored, no more.
    assert docs.collection("n").files == 3
    assert seen[0].files_total == 6
    report = docs.index("n")
    assert (len(report.indexed), report.unchanged) == (3, 3)


def test_reciprocal_rank_fusion() -> None:
    # 7 is second in both lists, so it beats 1 (first in one list only) and 9 (first in other).
    assert reciprocal_rank_fusion([[1, 7], [9, 7]]) == [7, 1, 9]
    # first + third (1/61 + 1/63) narrowly beats second + second (2/62)
    assert reciprocal_rank_fusion([[1, 7, 3], [9, 7, 1]])[:2] == [1, 7]
    assert reciprocal_rank_fusion([[], [4, 5]]) == [4, 5]
    assert reciprocal_rank_fusion([[2, 1], [1, 2]], k=60) == [2, 1]  # a tie keeps first seen


def test_a_collection_keeps_its_embedding_model(
    docs: Documents, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    docs.add("n", [make_folder(tmp_path / "n", 1)])
    docs.index("n")
    with pytest.raises(DocumentError, match="uses the embedding model fake-embedder"):
        docs.add("n", [tmp_path / "n"], model="BAAI/bge-small-en-v1.5")
    # Opened without that model (and no Hub to fetch it from): a clear message, nothing lost.
    other = Documents(tmp_path / "index.sqlite3")
    try:
        with pytest.raises(DocumentError, match="“fake-embedder” is not installed here"):
            other.index("n")
    finally:
        other.close()
    assert docs.collection("n").files == 1
    renamed = FakeEmbedder()
    renamed.name = "other-model"  # type: ignore[misc]
    with pytest.raises(DocumentError, match="indexed with fake-embedder"):
        indexer_module.index_collection(docs.store, "n", renamed)  # type: ignore[arg-type]


def test_full_text_looks_up_the_telling_words(
    docs: Documents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fulltext_module, "COMMON_FLOOR", 100)  # as in a large index
    assert fts_terms("What is the torque of the M8 bolt?") == ["torque", "m8", "bolt"]
    assert fts_terms('Who is "it"?') == ["who", "is", "it"]  # nothing but stopwords
    folder = tmp_path / "t"
    folder.mkdir()
    for i in range(150):  # "common" is in every chunk, each number in one
        (folder / f"{i}.txt").write_text(f"common words and the number n{i} here")
    (folder / "quote.txt").write_text('NEAR(a b) OR * "x" stays literal text')
    docs.add("t", [folder])
    docs.index("t")
    # a common word alone still finds chunks; next to a rare one, the rare one decides
    assert len(docs.search(["t"], "common", 5, "fts")) == 5
    hits = docs.search(["t"], "common n42", 5, "fts")
    assert [Path(h.chunk.path).name for h in hits] == ["42.txt"]
    hits = docs.search(["t"], 'NEAR(a b) OR * "x', 5, "fts")  # no FTS5 syntax gets through
    assert Path(hits[0].chunk.path).name == "quote.txt"


def test_watcher_reports_changes_once_per_burst(
    tmp_path: Path, docs: Documents, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "w", 1)
    docs.add("w", [folder])
    calls: list[str] = []
    event = threading.Event()

    def changed(name: str) -> None:
        calls.append(name)
        event.set()

    started: list[object] = []

    class Observer(watcher_module.Observer):  # type: ignore[misc,valid-type]
        def start(self) -> None:
            started.append(self)
            super().start()

    monkeypatch.setattr(watcher_module, "Observer", Observer)
    watcher = FolderWatcher(changed, delay=0.3)
    for _ in range(20):  # the window asks after every indexing run: the same folders stay watched
        watcher.watch(docs.collections())  # (restarting watchdog's threads makes it log errors)
    assert len(started) == 1
    try:
        (folder / "ignored.bin").write_bytes(b"not a document")
        for i in range(5):
            (folder / f"burst{i}.md").write_text("new")
        assert event.wait(10)
        time.sleep(0.6)  # a second call would come 0.3 s after the last event
        assert calls == ["w"]
        docs.add("v", [make_folder(tmp_path / "v", 1)])  # other folders: watched anew
        watcher.watch(docs.collections())
        event.clear()
        (tmp_path / "v" / "new.md").write_text("new")
        assert event.wait(10) and len(started) == 2 and calls[-1] == "v"
    finally:
        watcher.stop()


def test_small_files_are_embedded_together(docs: Documents, tmp_path: Path) -> None:
    """Two copies of the model embed side by side; one call per one-chunk file would leave one
    idle. The files still get their own vectors."""
    embedder: FakeEmbedder = docs.embedder  # type: ignore[assignment]
    calls: list[int] = []
    real_embed = embedder.embed

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real_embed(texts)

    embedder.embed = counting  # type: ignore[method-assign]
    folder = make_folder(tmp_path / "many", 40)
    docs.add("many", [folder])
    assert len(docs.index("many").indexed) == 40
    assert calls == [indexer_module.EMBED_SLICE, 40 - indexer_module.EMBED_SLICE]
    for i in (0, 17, 39):
        hits = docs.search(["many"], f"alpha{i}", 1, "vector")
        assert Path(hits[0].chunk.path).name == f"file{i}.txt"


def test_a_file_deleted_while_read_leaves_the_index(
    docs: Documents, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path / "d", 3)
    docs.add("d", [folder])
    docs.index("d")
    for path in folder.iterdir():
        path.write_text(path.read_text() + " edited")
        bump_mtime(path)
    real_parse = indexer_module.parsers.parse

    def parse_while_someone_deletes(path: Path, cancel: CancelToken):  # type: ignore[no-untyped-def]
        pages = real_parse(path, cancel)
        if path.name == "file1.txt":
            path.unlink()
        return pages

    monkeypatch.setattr(indexer_module.parsers, "parse", parse_while_someone_deletes)
    report = docs.index("d")
    assert [Path(p).name for p in report.removed] == ["file1.txt"]
    assert not docs.search(["d"], "alpha1", 3, "fts")  # its old passages are gone at once
    assert docs.collection("d").files == 2


def test_collections_sharing_a_folder_give_each_passage_once(
    docs: Documents, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "shared", 6)
    docs.add("one", [folder])
    docs.add("two", [folder])
    docs.index("one")
    docs.index("two")
    hits = docs.search(["one", "two"], "file number mentions", 5)
    places = [(h.chunk.path, h.chunk.start) for h in hits]
    assert len(hits) == 5 and len(set(places)) == 5
