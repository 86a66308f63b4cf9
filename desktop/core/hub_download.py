"""Resumable, verified downloads from the Hub with HTTP range requests.

A file downloads to ``NAME.partial`` beside its final name, continues from where it stopped after
a quit or a dropped connection (retried a few times), is checked against the sha256 the Hub
publishes for LFS files (or git's blob id for small ones), and only then renamed. Free disk
space is checked first; progress reports bytes, speed and time left; the token never follows a
redirect to another host.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.core.errors import (
    ChecksumError,
    ConnectionLost,
    DiskSpaceError,
    HubError,
    TokenRequired,
)
from desktop.core.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

CHUNK = 1 << 20
TIMEOUT_S = 30
RETRIES = 3


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


def download_files(
    files: list[RepoFile],
    url_of: Callable[[RepoFile], str],
    folder: Path,
    token: str | None,
    label: str,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> list[Path]:
    """Fetch ``files`` into ``folder``: disk space checked first, resumed, verified."""
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
    fetch = _Fetch(url_of, folder, token, label, meter, cancel)
    return [fetch.with_retries(f) for f in files]


@dataclass
class _Fetch:
    url_of: Callable[[RepoFile], str]
    folder: Path
    token: str | None
    label: str
    meter: _Meter
    cancel: CancelToken

    def with_retries(self, file: RepoFile) -> Path:
        """A dropped connection resumes from the bytes already on disk, a few times over."""
        for attempt in range(RETRIES + 1):
            try:
                return self.one(file)
            except ConnectionLost:
                if attempt == RETRIES:
                    raise
                self.cancel.check()
                time.sleep(min(2**attempt, 8))
        raise AssertionError("unreachable")

    def one(self, file: RepoFile) -> Path:
        folder, meter, cancel = self.folder, self.meter, self.cancel
        target = folder / file.name
        if target.is_file() and target.stat().st_size == file.size:
            return target  # finished in an earlier run (verified before it was renamed)
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
        url = self.url_of(file)
        headers = {"User-Agent": "huacaya"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = _OPENER.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise TokenRequired(f"The Hub refused {file.name} of “{self.label}”.") from exc
            raise HubError(f"The Hub answered {exc.code} for {file.name}.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectionLost(f"Could not reach the Hub: {exc}.") from exc
        with response, partial.open("ab") as out:
            if have and response.status != 206:  # the server ignored the range: start over
                out.truncate(0)
                digest = _new_digest(file)
                meter.add(-have)
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    cancel.check()
                    out.write(block)
                    digest.update(block)
                    meter.add(len(block), file.name)
            except (OSError, http.client.HTTPException) as exc:
                raise ConnectionLost(f"The connection dropped while fetching {file.name}.") from exc
            finally:
                out.flush()
                os.fsync(out.fileno())
        size = partial.stat().st_size
        if size < file.size:  # the body ended early: the connection was cut
            raise ConnectionLost(f"The connection dropped while fetching {file.name}.")
        expected = file.sha256 or file.git_sha1
        if size != file.size or (expected and digest.hexdigest() != expected):
            partial.unlink(missing_ok=True)
            meter.add(-size)
            raise ChecksumError(
                f"{file.name} of “{self.label}” arrived damaged (size or sha256 does not "
                "match the Hub's)."
            )
        os.replace(partial, target)
        return target


class _NoTokenAcrossHosts(urllib.request.HTTPRedirectHandler):
    """The Hub redirects large files to a CDN: the token must not follow to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != req.host:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_NoTokenAcrossHosts)


def _new_digest(file: RepoFile):  # type: ignore[no-untyped-def]
    """sha256 for LFS files (and files the Hub gave no hash for); git's blob hash otherwise."""
    return hashlib.sha256() if file.sha256 or not file.git_sha1 else _git_blob(file.size)


def _git_blob(size: int):  # type: ignore[no-untyped-def]
    """The hash git names small files by: sha1 of a header and the content."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {size}\0".encode())
    return digest


def _present_bytes(folder: Path, file: RepoFile) -> int:
    target = folder / file.name
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
