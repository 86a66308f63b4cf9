"""Malicious, broken and huge files in a collection's folder: each is listed as "cannot be read"
with its reason, at once and in little memory; the rest of the folder is indexed."""

from __future__ import annotations

import os
import resource
import signal
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conversion.errors import UnreadableDocument
from desktop.core.documents.chunker import chunk_pages
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.documents.parsers import Page, parse
from tests.documents.conftest import FakeEmbedder, use_converted_model, write_docx, write_odt

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
KMSG = Path("/proc/kmsg")


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A read that would block forever fails after 20 s instead (SIGALRM, main thread)."""

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def rewrite(source: Path, target: Path, parts: dict[str, bytes | None]) -> Path:
    """A copy of the zip ``source`` with ``parts`` replaced (None: left out) or added."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename not in parts:
                new.writestr(item, old.read(item))
        for name, data in parts.items():
            if data is not None:
                new.writestr(name, data)
    return target


def docx_with_body(tmp_path: Path, name: str, body: bytes, prolog: bytes = b"") -> Path:
    base = write_docx(tmp_path / "base.docx", ["x"])
    xml = prolog + b"<w:document " + W.encode() + b"><w:body>" + body + b"</w:body></w:document>"
    return rewrite(base, tmp_path / name, {"word/document.xml": xml})


def zip_bomb(tmp_path: Path) -> Path:
    """400 MB of paragraphs that pack into a few hundred kB."""
    base = write_docx(tmp_path / "base.docx", ["x"])
    target = tmp_path / "bomb.docx"
    with zipfile.ZipFile(base) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename != "word/document.xml":
                new.writestr(item, old.read(item))
        with new.open("word/document.xml", "w", force_zip64=True) as stream:
            stream.write(b"<w:document " + W.encode() + b"><w:body>")
            block = b"<w:p><w:r><w:t>boom</w:t></w:r></w:p>" * 30_000
            for _ in range(400 * 2**20 // len(block)):
                stream.write(block)
            stream.write(b"</w:body></w:document>")
    return target


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "laugh laugh laugh laugh">'
    + b"".join(
        b'<!ENTITY %c "%s">' % (ord("b") + i, b"&%c;" % (ord("a") + i) * 10) for i in range(9)
    )
    + b"]>"
)
HOSTILE: dict[str, Callable[[Path], Path]] = {
    "docx zip bomb": zip_bomb,
    "docx billion laughs": lambda tmp: docx_with_body(
        tmp, "laughs.docx", b"<w:p><w:r><w:t>&j;</w:t></w:r></w:p>", LAUGHS
    ),
    "docx nested 100,000 deep": lambda tmp: docx_with_body(
        tmp, "deep.docx", b"<w:p>" + b"<w:r>" * 100_000 + b"</w:r>" * 100_000 + b"</w:p>"
    ),
    "docx relationships pointing nowhere": lambda tmp: rewrite(
        write_docx(tmp / "base.docx", ["x"]),
        tmp / "nowhere.docx",
        {
            "_rels/.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/officeDocument" Target="word/gone.xml"/>'
            b"</Relationships>",
        },
    ),
    "docx without its body": lambda tmp: rewrite(
        write_docx(tmp / "base.docx", ["x"]), tmp / "hollow.docx", {"word/document.xml": None}
    ),
    "docx of a million parts": lambda tmp: million_parts(tmp / "parts.docx"),
    "odt nested 100,000 deep": lambda tmp: rewrite(
        write_odt(tmp / "base.odt", "T", ["x"]),
        tmp / "deep.odt",
        {
            "content.xml": b'<office:document-content xmlns:office="urn:oasis:names:tc:'
            b'opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:'
            b'text:1.0"><office:body><office:text><text:p>'
            + b"<text:span>" * 100_000
            + b"deep"
            + b"</text:span>" * 100_000
            + b"</text:p></office:text></office:body></office:document-content>"
        },
    ),
    "html of unclosed tags": lambda tmp: write(tmp / "tags.html", b'<a b="' * 2_000_000),
}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def million_parts(path: Path) -> Path:
    """A zip whose directory lists a million empty parts (zipfile would hold them all)."""
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(1_000_000):
            archive.writestr(f"p{number}", b"")
    return path


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_office_files_are_refused_at_once_in_little_memory(
    case: str, tmp_path: Path
) -> None:
    path = HOSTILE[case](tmp_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        pages = parse(path)
    except UnreadableDocument as exc:
        assert path.name in exc.message and "\n" not in exc.message
    else:  # read without expanding anything: a few characters of text
        assert sum(len(page.text) for page in pages) < 10_000
    assert time.monotonic() - started < 20
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"{case}: {grown_mb:.0f} MB"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_pipes_devices_and_kernel_files_named_txt_are_not_read(
    tmp_path: Path, no_hang: None
) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nothing")
    names = {"pipe.txt": "named pipe", "zero.txt": "character device", "gone.txt": "does not exist"}
    if KMSG.exists():
        (tmp_path / "kmsg.txt").symlink_to(KMSG)
        names["kmsg.txt"] = "a file of the system"
    for name, says in names.items():
        with pytest.raises(UnreadableDocument, match=says):
            parse(tmp_path / name)


def test_one_long_line_is_chunked_in_linear_time(tmp_path: Path) -> None:
    """32 MB (the limit for text) of one line, with and without spaces: a few seconds, not a
    hang (a guard, not a performance goal: benchmarks/ has the figures)."""
    for unit in ("a", "word ", " ", ". "):
        text = unit * (32 * 2**20 // len(unit))
        started = time.monotonic()
        chunks = chunk_pages([Page(0, "x" + text + "x")])
        assert time.monotonic() - started < 30, unit
        assert len(chunks) <= len(text) // 400 + 2


def test_the_codes_of_one_long_word_are_found_in_linear_time() -> None:
    """The index's codes-and-numbers column (terms.py) over a chunk of one 40,000-letter word:
    the code pattern was tried from every letter to the word's end (~50 s here; a 4 MB line
    of one letter made every indexing of its folder take minutes). A guard, not a figure."""
    from desktop.core.documents.terms import index_terms

    started = time.monotonic()
    assert index_terms("a" * 40_000) == ""
    assert index_terms("x" * 40_000 + "-Q7") == "x" * 40_000 + "q7"
    assert time.monotonic() - started < 5


def test_a_bad_file_leaves_the_rest_of_the_folder_indexed(
    tmp_path: Path, fake_embedder: FakeEmbedder, no_hang: None
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "good.txt").write_text("Alpacas are shorn in November.\n")
    HOSTILE["docx nested 100,000 deep"](tmp_path).rename(folder / "deep.docx")
    HOSTILE["odt nested 100,000 deep"](tmp_path).rename(folder / "deep.odt")
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.md").symlink_to("/dev/zero")
    odd = os.fsencode(folder) + b"/caf\xe9-latin1.txt"  # a name that is not UTF-8
    with open(odd, "wb") as handle:
        handle.write(b"Some notes.\n")
    documents = Documents(tmp_path / "index.sqlite3", fake_embedder)  # type: ignore[arg-type]
    try:
        documents.add("c", [folder])
        stored = {"deep.docx", "deep.odt", "pipe.txt", "zero.md"}
        for run in range(2):  # and the same at every rescan
            report = documents.index("c")
            unreadable = {Path(path).name: reason for path, reason in report.unreadable}
            # a name the index cannot store is reported at every run; the others once
            named = {"caf\ufffd-latin1.txt"} | (stored if run == 0 else set())
            assert set(unreadable) == named, unreadable
            assert "UTF-8" in unreadable["caf\ufffd-latin1.txt"]
            assert {Path(r.path).name for r in documents.unreadable("c")} == stored
            report.describe().encode("utf-8")  # printable
        assert documents.collection("c").files >= 1
        hits = documents.search(["c"], "When are alpacas shorn?", 3)
        assert hits and Path(hits[0].chunk.path).name == "good.txt"
    finally:
        documents.close()


def test_docs_search_prints_no_escape_sequences_or_nul(
    minilm: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file's text may hold what a terminal obeys (colours, a new window title, a cleared
    screen), and a file name too: none of it reaches the terminal."""
    from desktop.cli.main import main

    use_converted_model(minilm)
    folder = tmp_path / "hostile"
    folder.mkdir()
    trap = "\x1b]0;pwned\x07\x1b[2J\x1b[31mAlpacas\x1b[0m are shorn in November.\x9b1m"
    (folder / "shearing.txt").write_text(("Shearing notes. " * 5000) + "\x00" + trap + "\n")
    (folder / "\x1b[5mblink.md").write_text("Alpacas are shorn once a year.\n")
    assert main(["docs", "add", "c", str(folder)]) == 0
    assert main(["docs", "list"]) == 0
    assert main(["docs", "search", "c", "When are alpacas shorn?", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "Alpacas are shorn in November." in out and "blink.md" in out
    for control in ("\x1b", "\x00", "\x07", "\x9b"):
        assert control not in out, repr(control)


def test_one_long_file_shows_progress_while_it_is_embedded(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    """A file of one long line is hours of embedding on a small computer: the progress moves
    during it, not only when it is done (it looked like a hang)."""
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "line.txt").write_text("alpaca " * 20_000)  # one line, ~300 chunks
    documents = Documents(tmp_path / "index.sqlite3", fake_embedder)  # type: ignore[arg-type]
    try:
        documents.add("c", [folder])
        seen: list[tuple[float, int]] = []
        documents.index("c", on_status=lambda s: seen.append((s.files_done, s.chunks_done)))
        during = [chunks for files, chunks in seen if files == 0 and chunks > 0]
        assert len(during) >= 5 and during == sorted(during), seen
    finally:
        documents.close()
