"""Parsers on real files made by the libraries people write them with."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import UnreadableDocument
from desktop.core.documents import parsers
from desktop.core.documents.parsers import parse
from tests.documents.conftest import write_docx, write_odt, write_pdf


def test_pdf_keeps_pages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "manual.pdf", ["Chapter one: unpacking.", "", "Torque: 42 Nm."])
    pages = parse(path)
    assert [p.number for p in pages] == [1, 3]  # the empty page is left out, numbers kept
    assert "42 Nm" in pages[1].text


def test_word_and_opendocument_text(tmp_path: Path) -> None:
    docx = write_docx(tmp_path / "a.docx", ["First paragraph.", "Second one."], [["k", "v"]])
    (page,) = parse(docx)
    assert page.number == 0
    assert page.text.splitlines() == ["First paragraph.", "Second one.", "k | v"]
    odt = write_odt(tmp_path / "b.odt", "Title", ["Body text here."])
    assert parse(odt)[0].text.splitlines() == ["Title", "Body text here."]


def test_html_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Guide</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><p>Visible &amp; kept.</p><div>Next block</div>"
        "</body></html>"
    )
    text = parse(path)[0].text
    assert text.splitlines() == ["Guide", "", "Visible & kept.", "Next block"]


def test_text_encodings(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café crème".encode("cp1252"))
    (tmp_path / "bom.md").write_bytes("\ufeff# Titel äöü".encode())
    (tmp_path / "code.py").write_text("def f():\n    return 1\n")
    assert parse(tmp_path / "latin.txt")[0].text == "café crème"
    assert parse(tmp_path / "bom.md")[0].text == "# Titel äöü"
    assert "return 1" in parse(tmp_path / "code.py")[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("binary.txt", b"\x00\x01\x02ELF" * 100, "binary"),
        ("empty.md", b"   \n\n", "no text"),
        ("broken.pdf", b"%PDF-1.7 not really", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 nope", "not a readable Word"),
        ("broken.odt", b"garbage", "not a readable OpenDocument"),
        ("image.png", b"\x89PNG", "not read"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableDocument, match=reason):
        parse(path)


def test_encrypted_huge_and_vanished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write_pdf(tmp_path / "locked.pdf", ["secret"], password="pw")
    with pytest.raises(UnreadableDocument, match="encrypted"):
        parse(locked)
    monkeypatch.setattr(parsers, "MAX_TEXT_BYTES", 100)
    (tmp_path / "big.log").write_text("x " * 100)
    with pytest.raises(UnreadableDocument, match="too large"):
        parse(tmp_path / "big.log")
    with pytest.raises(UnreadableDocument, match="no longer there"):
        parse(tmp_path / "gone.txt")
