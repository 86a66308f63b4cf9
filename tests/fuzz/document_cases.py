"""Worker: seeded hostile variants of real documents (Word, OpenDocument, PDF, HTML, text) and
of what a folder can hold instead of a file (pipes, device links, loops), each read as the
indexer reads it; every 50 cases the folder so far is indexed as a whole.
Run by tests/fuzz/test_document_fuzz.py (``python -m tests.fuzz.document_cases WORK SEED N``)."""

from __future__ import annotations

import io
import os
import random
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.fuzz.harness import run_cases

TEXT = "Alpacas are shorn once a year, in November.\n\nThe herd grazes at 3,800 m. " * 20


def _bases(folder: Path) -> dict[str, bytes]:
    from tests.documents.conftest import write_docx, write_odt, write_pdf

    folder.mkdir(parents=True, exist_ok=True)
    write_docx(folder / "a.docx", ["Alpacas are shorn once a year.", "In November."], [["k", "v"]])
    write_odt(folder / "a.odt", "Shearing", ["Alpacas are shorn once a year."])
    write_pdf(folder / "a.pdf", ["Alpacas are shorn once a year.", "In November."])
    bases = {f".{p.suffix[1:]}": p.read_bytes() for p in folder.iterdir()}
    for path in folder.iterdir():
        path.unlink()
    bases[".html"] = (
        "<html><head><title>Farm</title><style>p{}</style></head><body><h1>Shearing</h1>"
        f"<p>{TEXT}</p><script>x()</script></body></html>"
    ).encode()
    bases[".txt"] = TEXT.encode()
    bases[".md"] = ("# Notes\n\n" + TEXT).encode()
    bases[".csv"] = b"animal,month\nalpaca,November\n" * 50
    return bases


def _xml_damage(xml: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(7)
    if choice == 0:  # deep nesting inside the body
        depth = rng.choice([300, 10_000, 200_000])
        at = max(xml.find(b"<w:t>"), xml.find(b"<text:p"), len(xml) // 2)
        return xml[:at] + b"<x>" * depth + b"</x>" * depth + xml[at:]
    if choice == 1:  # entities that expand (billion laughs)
        dtd = b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + b"".join(
            b'<!ENTITY %c "%s">' % (ord("b") + i, b"&%c;" % (ord("a") + i) * 10) for i in range(8)
        )
        return dtd + b"]>" + xml.replace(b"Alpacas", b"&i;", 1)
    if choice == 2:  # cut anywhere
        return xml[: rng.randrange(len(xml) + 1)]
    if choice == 3:  # a tag repeated a huge number of times
        return xml.replace(b"Alpacas", b"<x/>" * rng.choice([1_000, 500_000]), 1)
    if choice == 4:  # random bytes
        at = rng.randrange(len(xml) + 1)
        return xml[:at] + os.urandom(rng.randrange(1, 64)) + xml[at:]
    if choice == 5:  # an external entity
        return b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + xml.replace(
            b"Alpacas", b"&x;", 1
        )
    return xml.replace(b"Alpacas", "\ud800".encode("utf-8", "surrogatepass") + b"\x00", 1)


def _zip_variant(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    target = rng.choice([n for n in names if n.endswith(".xml")] or names)
    action = rng.randrange(5)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            content = source.read(name)
            if name == target:
                if action == 0:
                    continue  # a part missing
                if action == 1:
                    content = _xml_damage(content, rng)
                elif action == 2:
                    content = content.replace(b'Target="', b'Target="../../nowhere/', 1)
                elif action == 3:  # a bomb: the part unpacks to 100 MB
                    content = content + b" " * (100 << 20)
            archive.writestr(name, content)
        if action == 4:
            archive.writestr(f"junk/{rng.randrange(10**6)}", os.urandom(1000))
    return out.getvalue(), f"{target}: {['missing', 'damaged', 'bad link', 'bomb', 'junk'][action]}"


def _bytes_variant(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    choice = rng.randrange(6)
    if choice == 0:
        return data[: rng.randrange(len(data) + 1)], "truncated"
    if choice == 1:
        flipped = bytearray(data)
        for _ in range(rng.choice([1, 10, 100])):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped), "bytes flipped"
    if choice == 2:
        return b"\xff\xfe\x00" + data, "not UTF-8, NUL"
    if choice == 3:
        return data + b"\x1b[2J\x1b]0;x\x07" * 100, "escape sequences"
    if choice == 4:
        return b"a" * rng.choice([100_000, 4_000_000]), "one long line"
    return b"<" + b'<a b="' * rng.choice([1_000, 200_000]), "unclosed tags"


def _special(path: Path, rng: random.Random) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        os.mkfifo(path)
        return "a named pipe"
    if choice == 1:
        path.symlink_to("/dev/zero")
        return "a link to /dev/zero"
    if choice == 2:
        path.symlink_to("/proc/kmsg" if Path("/proc/kmsg").exists() else "/dev/urandom")
        return "a link to a kernel file"
    if choice == 3:
        path.symlink_to(path.with_name("nowhere"))
        return "a dangling link"
    if choice == 4:
        path.symlink_to(path)
        return "a link to itself"
    path.mkdir()
    return "a folder"


def cases(work: Path, seed: int, count: int) -> Iterator[tuple[str, Callable[[], str]]]:
    from conversion.errors import UnreadableDocument
    from desktop.core.documents.chunker import chunk_pages
    from desktop.core.documents.library import Documents
    from desktop.core.documents.parsers import parse
    from tests.documents.conftest import FakeEmbedder

    bases = _bases(work / "bases")
    folder = work / "folder"
    folder.mkdir()
    documents = Documents(work / "index.sqlite3", FakeEmbedder())  # type: ignore[arg-type]
    documents.add("fuzz", [folder])
    rng = random.Random(seed)

    def index() -> str:
        report = documents.index("fuzz")
        report.describe().encode("utf-8")
        return "ok"

    for number in range(count):
        suffix = rng.choice(sorted(bases))
        name = f"{number:04d}{suffix}"
        if rng.random() < 0.4 and os.name != "nt":
            name = f"{number:04d}-\udce9{suffix}" if rng.random() < 0.1 else name
        path = folder / name
        roll = rng.random()
        if roll < 0.1:
            what = _special(path, rng)
        elif suffix in (".docx", ".odt") and roll < 0.75:
            data, what = _zip_variant(bases[suffix], rng)
            path.write_bytes(data)
        else:
            data, what = _bytes_variant(bases[suffix], rng)
            path.write_bytes(data)

        def case(path: Path = path) -> str:
            try:
                pages = parse(path)
            except UnreadableDocument:
                return "refused"
            chunk_pages(pages)
            return "ok"

        yield f"#{number} {os.fsencode(path.name)!r}: {what}", case
        if number % 50 == 49:
            yield f"index the folder after #{number}", index
    yield "index the folder at the end", index

    def integrity() -> str:
        (result,) = documents.store.db.execute("PRAGMA integrity_check").fetchone()
        documents.close()
        if result != "ok":
            raise AssertionError(f"the index is damaged: {result}")
        return "ok"

    yield "integrity of the index", integrity


if __name__ == "__main__":
    run_cases(cases(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
