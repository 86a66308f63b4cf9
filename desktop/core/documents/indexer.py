"""Bring a collection's index up to date with its folders: new and changed files are parsed,
chunked, embedded and stored; deleted files leave the index; unchanged files cost a ``stat``.

A file counts as unchanged when its size and modification time match what was indexed; when
they differ its SHA-256 decides (a touched or copied-back file is not re-embedded). Small files
are embedded together (about ``EMBED_SLICE`` chunks at a time) and every file is stored in its
own transaction. Cancel and pause between files store what was read first; a crash or
``kill -9`` loses at most the few files being embedded; the next run (the app runs one at
start) resumes where it stopped.

Unreadable files are recorded with their reason: damaged or hostile ones, pipes and devices
(only regular files are read, see ``parsers``), and names that are not valid UTF-8 (the index
cannot store them; they are reported, not stored). A file that changes while it is read is
skipped and picked up by the next scan. A source folder that disappears (an unplugged disk)
is reported and its files are kept until it is back or removed from the collection.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conversion.errors import DocumentError, NotARegularFileError, UnreadableDocument
from conversion.input_files import open_regular
from conversion.progress import (
    NEVER_CANCELLED,
    CancelToken,
    Progress,
    duration_text,
    no_progress,
)
from desktop.core.documents import parsers
from desktop.core.documents.chunker import Chunk, chunk_pages
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.store import Collection, DocumentStore, Fingerprint
from desktop.core.words import plural

EMBED_SLICE = 32  # chunks embedded between two cancel/pause checks


@dataclass(frozen=True)
class _Parsed:
    path: Path
    stamp: Fingerprint  # when the scan saw it
    before: Fingerprint  # when it was read (with its hash)
    chunks: list[Chunk]


class PauseToken:
    """Set from any thread to hold the indexer between two slices of work."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait(self, cancel: CancelToken) -> None:
        while not self._running.wait(0.1):
            cancel.check()


@dataclass(frozen=True)
class IndexStatus:
    """What the progress display shows."""

    collection: str
    files_done: int
    files_total: int
    chunks_done: int
    chunks_per_second: float
    seconds_left: float | None
    current: str = ""

    def describe(self) -> str:
        left = ""
        if self.seconds_left is not None:
            left = f" · about {duration_text(self.seconds_left)} left"
        return (
            f"{self.files_done}/{plural(self.files_total, 'file')} · "
            f"{plural(self.chunks_done, 'chunk')} · {self.chunks_per_second:.1f} chunks/s{left}"
        )


@dataclass
class IndexReport:
    collection: str
    indexed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), this run
    unreadable_total: int = 0  # files of the collection that cannot be read, this run's included
    skipped: list[tuple[str, str]] = field(default_factory=list)  # changed or vanished mid-read
    missing_sources: list[str] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """One line for the window and the terminal: what this run did."""
        return (
            f"{plural(len(self.indexed), 'file')} indexed ({plural(self.chunks, 'chunk')}, "
            f"{self.chunks_per_second:.1f} chunks/s), {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, "
            f"{max(self.unreadable_total, len(self.unreadable))} cannot be read."
        )


def fingerprint(path: Path, with_hash: bool = False) -> Fingerprint:
    """Size and time; with ``with_hash``, the SHA-256 of a regular file of at most the size the
    parsers read (a pipe or device raises NotARegularFileError, never blocks or reads forever;
    a larger file gets no hash: the parser refuses it anyway)."""
    if not with_hash:
        stat = path.stat()
        return Fingerprint(stat.st_size, stat.st_mtime_ns, "")
    with open_regular(path) as handle:
        stat = os.fstat(handle.fileno())
        if stat.st_size > parsers.MAX_DOCUMENT_BYTES:
            return Fingerprint(stat.st_size, stat.st_mtime_ns, "")
        sha = hashlib.sha256()
        left = stat.st_size  # never past what fstat said (a file still being written)
        while left > 0 and (block := handle.read(min(left, 1 << 20))):
            sha.update(block)
            left -= len(block)
        return Fingerprint(stat.st_size, stat.st_mtime_ns, sha.hexdigest())


def shown(key: str) -> str:
    """A path as it can be printed and stored: bytes of a name that are not UTF-8 (kept by
    Python as lone surrogates) shown as �."""
    try:
        return key.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (Windows names)
        return key.encode("utf-8", "replace").decode("utf-8")


def walk_source(source: Path) -> Iterator[Path]:
    """The supported files under a folder (or the file itself), hidden ones left out."""
    if source.is_file():
        yield source
        return
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and parsers.supported(path):
                yield path


@dataclass(frozen=True)
class ScanPlan:
    to_index: list[tuple[Path, Fingerprint]]  # new or changed (by size/time; hash decides)
    unchanged: int
    removed: list[str]
    missing_sources: list[str]


def plan(store: DocumentStore, collection: Collection) -> ScanPlan:
    known = store.files(collection.id)
    seen: set[str] = set()
    to_index: list[tuple[Path, Fingerprint]] = []
    unchanged = 0
    missing: list[str] = []
    kept_prefixes: list[str] = []
    for source in map(Path, collection.sources):
        if not source.exists():
            missing.append(str(source))
            kept_prefixes.append(str(source))
            continue
        for path in walk_source(source):
            key = str(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                stamp = fingerprint(path)
            except OSError:
                continue  # gone between listing and stat: as if never seen
            record = known.get(key)
            if record and (record.fingerprint.size, record.fingerprint.mtime_ns) == (
                stamp.size,
                stamp.mtime_ns,
            ):
                unchanged += 1
            else:
                to_index.append((path, stamp))
    removed = [
        p
        for p in known
        if p not in seen and not any(p == k or p.startswith(k + os.sep) for k in kept_prefixes)
    ]
    return ScanPlan(to_index, unchanged, removed, missing)


def index_collection(
    store: DocumentStore,
    name: str,
    embedder: Embedder,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    pause: PauseToken | None = None,
    on_status: Callable[[IndexStatus], None] | None = None,
) -> IndexReport:
    collection = store.collection(name)
    if collection.embedding_model != embedder.name or collection.dimensions != embedder.dimensions:
        raise DocumentError(
            f"The collection “{name}” was indexed with {collection.embedding_model}, not "
            f"{embedder.name}.",
            f"Use {collection.embedding_model}, or remove the collection and add it again.",
        )
    started = time.perf_counter()
    work = plan(store, collection)
    report = IndexReport(name, unchanged=work.unchanged, missing_sources=list(work.missing_sources))
    store.remove_files(collection.id, work.removed)
    report.removed = list(work.removed)
    known = store.files(collection.id)
    total_bytes = sum(stamp.size for _, stamp in work.to_index) or 1
    done_bytes = 0
    embedding_seconds = 0.0

    position = (0, "")  # the file being read: (its number, its name)

    def status(files_done: int, current: str, embedded: int = 0, in_flight: float = 0.0) -> None:
        """``embedded`` chunks (``in_flight`` bytes) of the pending files are done: a long
        file shows progress while it is embedded, not only at its end."""
        nonlocal position
        position = (files_done, current)
        elapsed = time.perf_counter() - started
        chunks = report.chunks + embedded
        rate = chunks / embedding_seconds if embedding_seconds > 0 else 0.0
        done = done_bytes + in_flight
        left = elapsed / done * (total_bytes - done) if done else None
        snapshot = IndexStatus(name, files_done, len(work.to_index), chunks, rate, left, current)
        progress(done / total_bytes, snapshot.describe())
        if on_status is not None:
            on_status(snapshot)

    pending: list[_Parsed] = []  # parsed files waiting for their vectors

    def vanished(key: str) -> None:
        """Deleted since the scan: what was indexed of it goes (a new file: nothing to do)."""
        if key in known:
            store.remove_files(collection.id, [key])
            report.removed.append(key)

    def flush(stopping: bool = False) -> None:
        """Embed the pending files' chunks together (small files fill the embedder's copies
        side by side), then store each file in its own transaction. ``stopping``: finish them
        without looking at cancel or pause (less than one slice is pending then)."""
        nonlocal embedding_seconds, done_bytes
        texts = [c.text for item in pending for c in item.chunks]
        vectors: list = []
        embed_start = time.perf_counter()
        for first in range(0, len(texts), EMBED_SLICE):
            if not stopping:
                cancel.check()
            if not stopping and pause is not None and pause.paused:
                embedding_seconds += time.perf_counter() - embed_start
                pause.wait(cancel)
                embed_start = time.perf_counter()
            vectors.extend(embedder.embed_documents(texts[first : first + EMBED_SLICE]))
            if len(texts) > EMBED_SLICE and not stopping:
                seconds = embedding_seconds + time.perf_counter() - embed_start
                share = len(vectors) / len(texts) * sum(item.stamp.size for item in pending)
                embedding_seconds, embed_start = seconds, time.perf_counter()
                status(*position, embedded=len(vectors), in_flight=share)
        embedding_seconds += time.perf_counter() - embed_start
        offset = 0
        for item in pending:
            own = vectors[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
            done_bytes += item.stamp.size
            key = str(item.path)
            try:
                after = fingerprint(item.path)
            except OSError:
                after = None
            if after is None:  # deleted while it was read: it leaves the index
                vanished(key)
                continue
            if (after.size, after.mtime_ns) != (item.before.size, item.before.mtime_ns):
                report.skipped.append((key, "it changed while it was read"))
                continue
            pages = len({c.page for c in item.chunks})
            store.store_file(collection.id, key, item.before, pages, item.chunks, own)
            report.indexed.append(key)
            report.chunks += len(item.chunks)
        pending.clear()

    for number, (path, stamp) in enumerate(work.to_index):
        if cancel.cancelled or (pause is not None and pause.paused):
            flush(stopping=True)  # what was read is kept before stopping or pausing
        cancel.check()
        if pause is not None:
            pause.wait(cancel)
        key = str(path)
        status(number, shown(key))
        if shown(key) != key:  # a name that is not UTF-8: the index cannot hold it
            reason = f"“{shown(path.name)}”: its name is not valid UTF-8; rename the file."
            report.unreadable.append((shown(key), reason))
            done_bytes += stamp.size
            continue
        try:
            before = fingerprint(path, with_hash=True)
        except FileNotFoundError:
            vanished(key)
            done_bytes += stamp.size
            continue
        except NotARegularFileError as exc:
            store.mark_unreadable(collection.id, key, stamp, exc.message)
            report.unreadable.append((key, exc.message))
            done_bytes += stamp.size
            continue
        except OSError as exc:
            report.skipped.append((key, f"it could not be read ({exc.strerror})"))
            continue
        record = known.get(key)
        if record is not None and record.fingerprint.sha256 == before.sha256:
            store.refresh_fingerprint(record.id, before)  # same content, new time stamp
            report.unchanged += 1
            done_bytes += stamp.size
            continue
        try:
            pages = parsers.parse(path, cancel)
        except UnreadableDocument as exc:
            store.mark_unreadable(collection.id, key, before, exc.message)
            report.unreadable.append((key, exc.message))
            done_bytes += stamp.size
            continue
        pending.append(_Parsed(path, stamp, before, chunk_pages(pages)))
        if sum(len(item.chunks) for item in pending) >= EMBED_SLICE:
            flush()
    flush()
    # An unreadable file that did not change is not read again, but it still cannot be read:
    # the report counts every one the collection has, as its list of them shows.
    report.unreadable_total = store.collection(name).unreadable
    report.seconds = time.perf_counter() - started
    status(len(work.to_index), "")
    return report
