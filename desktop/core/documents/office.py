"""Text out of Word (.docx), OpenDocument (.odt) and HTML files, read as a stream with lxml.

python-docx and odfpy (used before) build the whole document in memory before anything is read
from it — a zip bomb of 400 MB of XML took gigabytes — walk it recursively (a deeply nested
ODT ended in RecursionError) and trust the package's relationships (one pointing nowhere was a
traceback). The standard library's HTMLParser takes time quadratic in an unclosed tag's length
(80 kB of ``<a b="`` took 21 s). So these files are read here with lxml (libxml2): the zip's
directory and each part's size are checked before anything is unpacked, the XML is parsed as
a stream with entities left unexpanded (no "billion laughs"), libxml2's depth limit, and no
network; each paragraph is turned into text and freed as soon as it ends. Memory stays that of
one paragraph plus the text read; the text read is capped too.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from conversion.errors import UnreadableDocument
from conversion.progress import CancelToken

MAX_PART_BYTES = 64 * 1024 * 1024  # the unpacked XML of one document's body
MAX_TEXT_CHARS = 32 * 1024 * 1024  # the text taken from one file, as for a text file
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024  # a zip's list of parts (a Word file's: a few kB)
_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_OFFICE_DOCUMENT = "/officeDocument"


def _parser_options() -> dict[str, object]:
    return dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Text:
    """The lines read so far, refused past :data:`MAX_TEXT_CHARS`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.size = 0

    def add(self, line: str) -> None:
        self.size += len(line) + 1
        if self.size > MAX_TEXT_CHARS:
            raise UnreadableDocument(
                f"“{self.name}” holds more than {MAX_TEXT_CHARS // 2**20} million characters of "
                "text, more than one document is indexed for."
            )
        self.lines.append(line)

    def joined(self) -> str:
        return "\n".join(self.lines)


def _free(element: etree._Element) -> None:
    """Forget a finished element and the siblings before it (what keeps memory flat)."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _package(handle: BinaryIO, name: str, what: str) -> zipfile.ZipFile:
    """The zip ``handle``, its directory checked before zipfile reads it into memory."""
    size = handle.seek(0, 2)
    tail_size = min(size, _END_OF_DIRECTORY.size + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    where = tail.rfind(b"PK\x05\x06")
    if where < 0 or where + _END_OF_DIRECTORY.size > len(tail):
        raise UnreadableDocument(f"“{name}” is not a readable {what} (not a zip package).")
    directory_size = _END_OF_DIRECTORY.unpack_from(tail, where)[5]
    if directory_size > MAX_DIRECTORY_BYTES:
        raise UnreadableDocument(
            f"“{name}” is not a readable {what}: its list of parts is {directory_size:,} bytes."
        )
    handle.seek(0)
    try:
        return zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise UnreadableDocument(f"“{name}” is not a readable {what} ({exc}).") from exc


def _part(archive: zipfile.ZipFile, part: str, name: str, what: str) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo(part)
    except KeyError:
        raise UnreadableDocument(
            f"“{name}” is not a readable {what}: its package has no “{part}”."
        ) from None
    if info.file_size > MAX_PART_BYTES:
        raise UnreadableDocument(
            f"“{name}” is not a readable {what}: “{part}” unpacks to {info.file_size:,} bytes "
            f"(a zip bomb, or far more than a document holds; at most {MAX_PART_BYTES:,})."
        )
    return info


def _stream(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, what: str
) -> Iterator[tuple[str, etree._Element]]:
    """(event, element) of the XML part, parse errors as one message."""
    try:
        with archive.open(info) as stream:
            yield from etree.iterparse(
                stream, events=("start", "end"), remove_comments=True, remove_pis=True,
                **_parser_options(),
            )  # fmt: skip
    except etree.XMLSyntaxError as exc:
        raise UnreadableDocument(
            f"“{name}” is not a readable {what}: its XML is damaged or nested too deeply "
            f"({exc.msg})."
        ) from exc
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise UnreadableDocument(f"“{name}” is not a readable {what} ({exc}).") from exc


# -- Word ------------------------------------------------------------------------------------


def _main_part(archive: zipfile.ZipFile, name: str) -> str:
    """The package's main document part, as its relationships name it."""
    what = "Word document"
    try:
        info = _part(archive, "_rels/.rels", name, what)
        root = etree.fromstring(archive.read(info), etree.XMLParser(**_parser_options()))
    except UnreadableDocument:
        if "word/document.xml" in archive.NameToInfo:
            return "word/document.xml"
        raise
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError) as exc:
        raise UnreadableDocument(f"“{name}” is not a readable {what} ({exc}).") from exc
    for relation in root:
        if str(relation.get("Type", "")).endswith(_OFFICE_DOCUMENT):
            target = posixpath.normpath(str(relation.get("Target", "")).lstrip("/"))
            if target in archive.NameToInfo:
                return target
            raise UnreadableDocument(
                f"“{name}” is not a readable {what}: its relationships name the part "
                f"“{target[:80]}”, which it does not contain."
            )
    raise UnreadableDocument(f"“{name}” is not a readable {what}: it names no document part.")


def _run_text(paragraph: etree._Element) -> str:
    parts = []
    for element in paragraph.iter():
        local = _local(element)
        if local == "t":
            parts.append(element.text or "")
        elif local == "tab":
            parts.append("\t")
        elif local in ("br", "cr"):
            parts.append("\n")
    return "".join(parts)


def docx_text(handle: BinaryIO, name: str, cancel: CancelToken) -> str:
    """Paragraphs one per line, a table row as its cells joined by " | " (as python-docx
    reads them), in document order."""
    what = "Word document"
    archive = _package(handle, name, what)
    text = _Text(name)
    tables: list[dict[str, list[str] | None]] = []  # the open tables: their row and cell
    paragraphs = 0  # nesting depth (a text box holds paragraphs inside a paragraph)

    def deliver(line: str) -> None:
        if tables and tables[-1]["cell"] is not None:
            tables[-1]["cell"].append(line)
        else:
            text.add(line)

    with archive:
        part = _part(archive, _main_part(archive, name), name, what)
        for count, (event, element) in enumerate(_stream(archive, part, name, what)):
            if count % 65536 == 0:
                cancel.check()
            local = _local(element)
            if local == "p":
                paragraphs += 1 if event == "start" else -1
                if event == "end" and paragraphs == 0:
                    deliver(_run_text(element))
                    _free(element)
            elif paragraphs:
                continue
            elif local == "tbl":
                if event == "start":
                    tables.append({"row": None, "cell": None})
                else:
                    tables.pop()
                    _free(element)
            elif tables and local == "tr":
                if event == "start":
                    tables[-1]["row"] = []
                else:
                    row = tables[-1]["row"] or []
                    tables[-1]["row"] = None
                    deliver(" | ".join(cell.strip() for cell in row))
            elif tables and local == "tc":
                if event == "start":
                    tables[-1]["cell"] = []
                else:
                    cell = tables[-1]["cell"] or []
                    tables[-1]["cell"] = None
                    if tables[-1]["row"] is not None:
                        tables[-1]["row"].append("\n".join(cell))
    return text.joined()


# -- OpenDocument ----------------------------------------------------------------------------


def _odf_text(block: etree._Element) -> str:
    """A paragraph's text in document order (text:s, text:tab, text:line-break as odfpy's
    teletype spells them), without recursion."""
    parts: list[str] = []
    stack: list[tuple[etree._Element, bool]] = [(block, False)]
    while stack:
        element, closing = stack.pop()
        if closing:
            if element is not block and element.tail:
                parts.append(element.tail)
            continue
        stack.append((element, True))
        local = _local(element)
        if local == "s":
            count = element.get("{urn:oasis:names:tc:opendocument:xmlns:text:1.0}c") or "1"
            parts.append(" " * (min(int(count), 1000) if count.isdigit() else 1))
        elif local == "tab":
            parts.append("\t")
        elif local == "line-break":
            parts.append("\n")
        else:
            if element.text:
                parts.append(element.text)
            stack.extend((child, False) for child in reversed(element))
    return "".join(parts)


def odt_text(handle: BinaryIO, name: str, cancel: CancelToken) -> str:
    """Each paragraph and heading of the body on its own line."""
    what = "OpenDocument text"
    archive = _package(handle, name, what)
    text = _Text(name)
    body = 0
    blocks = 0
    with archive:
        part = _part(archive, "content.xml", name, what)
        for count, (event, element) in enumerate(_stream(archive, part, name, what)):
            if count % 65536 == 0:
                cancel.check()
            local = _local(element)
            if local == "body":
                body += 1 if event == "start" else -1
            elif body and local in ("p", "h"):
                blocks += 1 if event == "start" else -1
                if event == "end" and blocks == 0:
                    text.add(_odf_text(element))
                    _free(element)
    return text.joined()


# -- HTML ------------------------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "template", "noscript", "svg", "head"})
_BLOCK = frozenset({
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
    "article", "pre", "blockquote", "table", "ul", "ol", "dd", "dt", "hr", "title",
})  # fmt: skip


def html_text(source: str, name: str) -> tuple[str, str]:
    """(title, visible text) of a page: scripts, styles and templates left out, blocks on
    lines of their own (what the standard library's parser gave, in linear time)."""
    if not source.strip():
        return "", ""
    parser = etree.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True,
                              remove_pis=True)  # fmt: skip
    try:
        root = etree.fromstring(source.encode("utf-8", "replace"), parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise UnreadableDocument(f"“{name}” is not readable HTML ({exc}).") from exc
    if root is None:
        return "", ""
    parts: list[str] = []
    title: list[str] = []
    # (element, closing, whether its parent is hidden): a tail belongs to the parent
    stack: list[tuple[etree._Element, bool, bool]] = [(root, False, False)]
    while stack:
        element, closing, hidden = stack.pop()
        local = element.tag.lower() if isinstance(element.tag, str) else ""
        if closing:
            if local in _BLOCK:
                parts.append("\n")
            if element.tail and not hidden:
                parts.append(element.tail)
            continue
        stack.append((element, True, hidden))
        if local == "title":
            title.append("".join(element.itertext()))
            continue
        if local in _BLOCK:
            parts.append("\n")
        own = hidden or local in _SKIP
        if element.text and not own:
            parts.append(element.text)
        stack.extend((child, False, own) for child in reversed(element))
    return " ".join("".join(title).split()), "".join(parts)
