"""Resumable, verified downloads from the Hub with HTTP range requests.

A file downloads to ``NAME.partial`` beside its final name (subfolders of the repository are
kept, names that would leave the download folder refused), continues from where it stopped
after a quit or a dropped connection, is retried for as long as bytes arrive (``DownloadPolicy``:
timeouts, low-speed limit, backoff), never grows past the size the Hub lists, is checked
against the sha256 the Hub publishes for LFS files (or git's blob id for small ones), and only
then renamed. Free disk space is checked first; progress reports bytes, speed and time left;
the token never follows a redirect to another host (httpx drops it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from conversion.errors import (
    ChecksumError,
    ConnectionLost,
    DiskSpaceError,
    HubError,
    TokenRequired,
    UnsafeFileName,
)
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.hub.transfer import (
    DEFAULT_POLICY,
    DownloadPolicy,
    Head,
    Transfer,
    sleep_cancellable,
)

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True)
class RepoFile:
    name: str
    size: int
    sha256: str | None  # LFS files have one
    git_sha1: str | None = None  # small files stored in git: the blob id


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    return f"{count:,.1f} GB"


def safe_relative_path(name: str) -> PurePosixPath:
    """A repository file name as a path that stays inside the download folder.

    Subfolders (``Q4_1/m.gguf``) are kept; an absolute path, a drive, ``..``, a backslash, a
    colon (Windows streams), an empty part or a control character is refused, since the name
    comes from a server and would otherwise choose where on disk the file lands.
    """
    parts = name.split("/")
    if (
        not name
        or len(name) > 1024
        or any(part in ("", ".", "..") for part in parts)
        or any(ch in name for ch in "\\:")
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    ):
        raise UnsafeFileName(f"The Hub listed a file with an unsafe name: {name!r}.")
    return PurePosixPath(*parts)


def target_path(folder: Path, name: str) -> Path:
    """Where the repository file ``name`` is saved under ``folder``."""
    target = folder.joinpath(*safe_relative_path(name).parts)
    if not target.resolve().is_relative_to(folder.resolve()):  # a symlinked subfolder
        raise UnsafeFileName(f"The file {name!r} would be saved outside the download folder.")
    return target


def download_files(
    files: list[RepoFile],
    url_of: Callable[[RepoFile], str],
    folder: Path,
    token: str | None,
    label: str,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    policy: DownloadPolicy = DEFAULT_POLICY,
) -> list[Path]:
    """Fetch ``files`` into ``folder``: names checked and disk space counted first, then each
    file resumed, retried while bytes arrive, bounded by its size and verified."""
    for file in files:
        safe_relative_path(file.name)
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(f.size for f in files)
    done = sum(_present_bytes(folder, f) for f in files)
    needed = total - done
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskSpaceError(
            f"Downloading {label} needs {human_bytes(needed)} but only "
            f"{human_bytes(free)} is free on that disk."
        )
    meter = _Meter(total, done, progress)
    fetch = _Fetch(url_of, folder, token, label, meter, cancel, policy)
    return [fetch.with_retries(f) for f in files]


@dataclass
class _Fetch:
    url_of: Callable[[RepoFile], str]
    folder: Path
    token: str | None
    label: str
    meter: _Meter
    cancel: CancelToken
    policy: DownloadPolicy

    def with_retries(self, file: RepoFile) -> Path:
        """Retry while bytes arrive: only attempts that brought (almost) nothing count against
        the budget, so a link that drops every few MB still finishes; the partial file stays
        for the next run when the budget is spent."""
        failures = 0
        while True:
            before = _present_bytes(self.folder, file)
            try:
                return self.one(file)
            except ConnectionLost as exc:
                gained = _present_bytes(self.folder, file) - before
                failures = 0 if gained >= self.policy.progress_bytes else failures + 1
                if failures >= self.policy.attempts_without_progress:
                    kept = _present_bytes(self.folder, file)
                    raise ConnectionLost(
                        f"Downloading {file.name} of “{self.label}” made no progress in "
                        f"{failures} attempts ({exc.message.rstrip('.')}).",
                        "Check your connection and run the same download again (or Retry "
                        "it in the Models window): it continues from the "
                        f"{human_bytes(kept)} already fetched.",
                    ) from exc
                log.info("retrying %s after: %s", file.name, exc.message)
                sleep_cancellable(self.policy.backoff(failures), self.cancel, self.policy.poll)

    def one(self, file: RepoFile) -> Path:
        target = target_path(self.folder, file.name)
        if target.is_file() and target.stat().st_size == file.size:
            return target  # finished in an earlier run (verified before it was renamed)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        have = partial.stat().st_size if partial.exists() else 0
        if have > file.size:
            partial.unlink()
            have = 0
        digest = _new_digest(file)
        if have:
            with partial.open("rb") as existing:
                for block in iter(lambda: existing.read(CHUNK), b""):
                    digest.update(block)
        if have < file.size or file.size == 0:
            digest = self._receive(file, partial, have, digest)
        size = partial.stat().st_size
        if size < file.size:  # the body ended early: the connection was cut
            raise ConnectionLost(f"The connection dropped while fetching {file.name}.")
        expected = file.sha256 or file.git_sha1
        if size != file.size or (expected and digest.hexdigest() != expected):
            partial.unlink(missing_ok=True)
            self.meter.add(-size)
            raise ChecksumError(
                f"{file.name} of “{self.label}” arrived damaged (size or sha256 does not "
                "match the Hub's)."
            )
        os.replace(partial, target)
        return target

    def _receive(self, file: RepoFile, partial: Path, have: int, digest):
        """Append the rest of ``file`` to ``partial``; never more than its size is written."""
        headers = {"User-Agent": "huacaya", "Accept-Encoding": "identity"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if have:
            headers["Range"] = f"bytes={have}-"
        with Transfer(self.url_of(file), headers, self.policy) as transfer:
            head = transfer.head(self.cancel)
            self._check_status(file, head)
            start = have if head.status == 206 and _range_start(head) == have else 0
            length = head.headers.get("Content-Length")
            if length is not None and length.isdigit() and start + int(length) > file.size:
                raise ChecksumError(
                    f"The Hub offers {file.name} with {human_bytes(start + int(length))}, "
                    f"but its listing says {human_bytes(file.size)}; nothing was written."
                )
            with partial.open("r+b" if partial.exists() else "wb") as out:
                if start != have:  # the server ignored the range: start over
                    out.truncate(0)
                    digest = _new_digest(file)
                    self.meter.add(-have)
                out.seek(start)
                written = start
                try:
                    for block in transfer.blocks(self.cancel):
                        block = block[: file.size - written]  # an endless body stops here
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        self.meter.add(len(block), file.name)
                        if written >= file.size:
                            break
                finally:
                    out.flush()
                    os.fsync(out.fileno())
        return digest

    def _check_status(self, file: RepoFile, head: Head) -> None:
        if head.status in (200, 206):
            return
        if head.status in (401, 403):
            raise TokenRequired(f"The Hub refused {file.name} of “{self.label}”.")
        if head.status == 429 or head.status >= 500:
            raise ConnectionLost(f"The Hub is busy ({head.status}) for {file.name}.")
        raise HubError(f"The Hub answered {head.status} for {file.name}.")


def _range_start(head: Head) -> int | None:
    """The first byte of a 206 answer (``Content-Range: bytes START-END/TOTAL``)."""
    value = head.headers.get("Content-Range", "")
    start = value.removeprefix("bytes ").split("-", 1)[0]
    return int(start) if start.isdigit() else None


def _new_digest(file: RepoFile):
    """sha256 for LFS files (and files the Hub gave no hash for); git's blob hash otherwise."""
    return hashlib.sha256() if file.sha256 or not file.git_sha1 else _git_blob(file.size)


def _git_blob(size: int):
    """The hash git names small files by: sha1 of a header and the content."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {size}\0".encode())
    return digest


def _present_bytes(folder: Path, file: RepoFile) -> int:
    target = target_path(folder, file.name)
    if target.is_file() and target.stat().st_size == file.size:
        return file.size
    partial = target.with_name(target.name + ".partial")
    return min(partial.stat().st_size, file.size) if partial.exists() else 0


class _Meter:
    """Bytes done → progress with speed and ETA (over the bytes of this run)."""

    def __init__(self, total: int, done: int, progress: Progress) -> None:
        self.total, self.done, self.progress = max(total, 1), done, progress
        self.started, self.start_bytes, self.last = time.monotonic(), done, 0.0

    def add(self, count: int, name: str = "") -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last < 0.2 and self.done < self.total:
            return
        self.last = now
        speed = (self.done - self.start_bytes) / max(now - self.started, 1e-6)
        eta = (self.total - self.done) / speed if speed > 0 else float("inf")
        eta_text = f"{eta:,.0f} s left" if eta != float("inf") else "…"
        self.progress(
            self.done / self.total,
            f"{name} {human_bytes(self.done)} of {human_bytes(self.total)} · "
            f"{human_bytes(speed)}/s · {eta_text}",
        )
