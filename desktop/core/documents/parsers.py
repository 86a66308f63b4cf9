"""Text out of the files a collection holds, page by page, with maintained parsers: pypdfium2
(PDF text layer), python-docx (.docx), odfpy (.odt) and the standard library's HTML parser.
Plain text and source code are decoded here.

A file that cannot be read raises :class:`UnreadableDocument` with the reason in words (the
index lists it with that reason instead of skipping it silently).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from conversion.errors import UnreadableDocument
from conversion.progress import NEVER_CANCELLED, CancelToken

PLAIN_TEXT = {".txt", ".md", ".markdown", ".rst", ".text", ".log", ".csv", ".tsv", ".tex"}
SOURCE_CODE = {
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".c", ".h", ".cc", ".cpp", ".hpp",
    ".cs", ".java", ".kt", ".go", ".rs", ".rb", ".php", ".swift", ".scala", ".sh", ".bash",
    ".ps1", ".sql", ".r", ".m", ".lua", ".pl", ".json", ".yaml", ".yml", ".toml", ".ini",
    ".cfg", ".xml", ".css", ".scss",
}  # fmt: skip
HTML = {".html", ".htm", ".xhtml"}
SUPPORTED = PLAIN_TEXT | SOURCE_CODE | HTML | {".pdf", ".docx", ".odt"}

MAX_TEXT_BYTES = 32 * 1024 * 1024  # a "text" file larger than this is a log or a dump
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Page:
    number: int  # 1-based for paged documents (PDF); 0 where a file has no pages
    text: str


def supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED


def parse(path: Path, cancel: CancelToken = NEVER_CANCELLED) -> list[Page]:
    """The text of ``path``, page by page (pages without text are left out)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableDocument(f"“{path.name}”: {suffix or 'no extension'} files are not read.")
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise UnreadableDocument(f"“{path.name}” is no longer there.") from exc
    except OSError as exc:
        raise UnreadableDocument(f"“{path.name}” cannot be read: {exc.strerror}.") from exc
    limit = MAX_DOCUMENT_BYTES if suffix in {".pdf", ".docx", ".odt"} else MAX_TEXT_BYTES
    if size > limit:
        raise UnreadableDocument(
            f"“{path.name}” is too large ({size / 2**20:,.0f} MB; the limit for this kind of "
            f"file is {limit / 2**20:,.0f} MB)."
        )
    reader: Callable[[Path, CancelToken], list[Page]]
    if suffix == ".pdf":
        reader = _pdf
    elif suffix == ".docx":
        reader = _docx
    elif suffix == ".odt":
        reader = _odt
    elif suffix in HTML:
        reader = _html
    else:
        reader = _plain
    try:
        pages = reader(path, cancel)
    except FileNotFoundError as exc:
        raise UnreadableDocument(f"“{path.name}” is no longer there.") from exc
    except PermissionError as exc:
        raise UnreadableDocument(f"“{path.name}” cannot be opened: permission denied.") from exc
    pages = [p for p in pages if p.text.strip()]
    if not pages:
        what = "no text layer (a scanned PDF?)" if suffix == ".pdf" else "no text"
        raise UnreadableDocument(f"“{path.name}” has {what}.")
    return pages


# -- plain text ------------------------------------------------------------------------------


def decode_text(data: bytes, name: str) -> str:
    """Bytes of a text file → str: UTF-8 (or UTF-16 with a byte-order mark), else Windows-1252;
    a file with NUL bytes or many control characters is binary whatever its extension."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in sample or controls > len(sample) // 100:
        raise UnreadableDocument(f"“{name}” is a binary file, not text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _plain(path: Path, cancel: CancelToken) -> list[Page]:
    return [Page(0, decode_text(path.read_bytes(), path.name))]


# -- HTML ------------------------------------------------------------------------------------


class _HtmlText(HTMLParser):
    """The visible text of a page: scripts, styles and templates left out, blocks on their own
    lines."""

    SKIP = frozenset({"script", "style", "template", "noscript", "svg", "head"})
    BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
        "article", "pre", "blockquote", "table", "ul", "ol", "dd", "dt", "hr", "title",
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skipping += 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skipping:
            self._skipping -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)


def _html(path: Path, cancel: CancelToken) -> list[Page]:
    parser = _HtmlText()
    parser.feed(decode_text(path.read_bytes(), path.name))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    body = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split())
    return [Page(0, f"{title}\n\n{body}" if title else body)]


# -- office documents ------------------------------------------------------------------------


def _pdf(path: Path, cancel: CancelToken) -> list[Page]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise UnreadableDocument(f"“{path.name}” is encrypted (password protected).") from exc
        raise UnreadableDocument(f"“{path.name}” is not a readable PDF ({reason}).") from exc
    try:
        pages = []
        for index in range(len(document)):
            cancel.check()
            page = document[index]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_bounded()
            finally:
                textpage.close()
                page.close()
            pages.append(Page(index + 1, text.replace("\r\n", "\n").replace("\r", "\n")))
        return pages
    finally:
        document.close()


def _docx(path: Path, cancel: CancelToken) -> list[Page]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDocument(f"“{path.name}” is not a readable Word document.") from exc

    def lines() -> Iterator[str]:
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    yield " | ".join(cell.text.strip() for cell in row.cells)
            else:
                yield block.text

    return [Page(0, "\n".join(lines()))]


def _odt(path: Path, cancel: CancelToken) -> list[Page]:
    import zipfile
    from xml.parsers.expat import ExpatError

    from odf import teletype
    from odf.element import Element
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    try:
        document = load(str(path))
    except (zipfile.BadZipFile, KeyError, ExpatError, ValueError) as exc:
        raise UnreadableDocument(f"“{path.name}” is not a readable OpenDocument text.") from exc
    blocks = {(TEXTNS, "p"), (TEXTNS, "h")}
    lines: list[str] = []

    def walk(node: Element) -> None:
        for child in node.childNodes:
            if getattr(child, "qname", None) in blocks:
                lines.append(teletype.extractText(child))
            elif child.nodeType == child.ELEMENT_NODE:
                walk(child)

    walk(document.text)
    return [Page(0, "\n".join(lines))]
