"""Text out of the files a collection holds, page by page: pypdfium2 (PDF text layer), lxml
for Word, OpenDocument and HTML (``documents.office``: streamed, bounded). Plain text and source
code are decoded here.

A folder is input from anywhere, so only regular files are read (a pipe named ``notes.txt``
would block forever, a link to ``/dev/zero`` would read forever): each file is opened without
blocking and checked on the descriptor opened, links are followed only to regular files, and
at most the size ``fstat`` reported is read, under a size limit per kind of file.

A file that cannot be read raises :class:`UnreadableDocument` with the reason in words (the
index lists it with that reason instead of skipping it silently); so does any error of a
parser on a damaged or hostile file, which would otherwise end the whole indexing run.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from conversion.errors import Cancelled, NotARegularFileError, UnreadableDocument
from conversion.input_files import open_regular
from conversion.progress import NEVER_CANCELLED, CancelToken
from desktop.core.documents import office

log = logging.getLogger(__name__)
_SURROGATE = re.compile("[\ud800-\udfff]")

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
        handle = open_regular(path)
    except NotARegularFileError as exc:
        raise UnreadableDocument(exc.message) from None
    except FileNotFoundError as exc:
        raise UnreadableDocument(f"“{path.name}” is no longer there.") from exc
    except PermissionError as exc:
        raise UnreadableDocument(f"“{path.name}” cannot be opened: permission denied.") from exc
    except OSError as exc:
        raise UnreadableDocument(f"“{path.name}” cannot be read: {exc.strerror}.") from exc
    with handle:
        pages = _read(handle, path.name, suffix, cancel)
    pages = [Page(p.number, _clean(p.text)) for p in pages if p.text.strip()]
    if not pages:
        what = "no text layer (a scanned PDF?)" if suffix == ".pdf" else "no text"
        raise UnreadableDocument(f"“{path.name}” has {what}.")
    return pages


def _clean(text: str) -> str:
    """Text the index can store and a terminal can show: no NUL, no lone surrogate (which a
    PDF's text layer can hold)."""
    text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _read(handle: BinaryIO, name: str, suffix: str, cancel: CancelToken) -> list[Page]:
    size = os.fstat(handle.fileno()).st_size
    limit = MAX_DOCUMENT_BYTES if suffix in {".pdf", ".docx", ".odt"} else MAX_TEXT_BYTES
    if size > limit:
        raise UnreadableDocument(
            f"“{name}” is too large ({size / 2**20:,.0f} MB; the limit for this kind of "
            f"file is {limit / 2**20:,.0f} MB)."
        )
    try:
        if suffix == ".pdf":
            return _pdf(handle, name, cancel)
        if suffix == ".docx":
            return [Page(0, office.docx_text(handle, name, cancel))]
        if suffix == ".odt":
            return [Page(0, office.odt_text(handle, name, cancel))]
        text = decode_text(handle.read(size), name)  # never more than it said it holds
        return [Page(0, _html(text, name) if suffix in HTML else text)]
    except (UnreadableDocument, Cancelled):
        raise
    except OSError as exc:
        raise UnreadableDocument(f"“{name}” cannot be read: {exc.strerror or exc}.") from exc
    except Exception as exc:  # a parser on a damaged file may raise any of dozens of errors
        log.warning("cannot read %s", name, exc_info=True)
        raise UnreadableDocument(
            f"“{name}” cannot be read: {type(exc).__name__}: {str(exc)[:200]}."
        ) from exc


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


# -- HTML ------------------------------------------------------------------------------------


def _html(source: str, name: str) -> str:
    title, text = office.html_text(source, name)
    lines = (" ".join(line.split()) for line in text.splitlines())
    body = "\n".join(line for line in lines if line)
    return f"{title}\n\n{body}" if title else body


# -- office documents ------------------------------------------------------------------------


def _pdf(handle: BinaryIO, name: str, cancel: CancelToken) -> list[Page]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(handle, autoclose=False)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise UnreadableDocument(f"“{name}” is encrypted (password protected).") from exc
        raise UnreadableDocument(f"“{name}” is not a readable PDF ({reason}).") from exc
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
