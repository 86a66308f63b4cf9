"""The Hugging Face Hub: search, repository metadata, and resumable, verified downloads.

Metadata and search go through huggingface-hub's ``HfApi``; files are fetched with HTTP range
requests so that progress (bytes, speed, ETA), cancel and resume are ours: a file downloads to
``NAME.partial`` beside its final name, continues from where it stopped after a quit or a dropped
connection, is checked against the sha256 the Hub publishes for it, and only then renamed.
``HF_ENDPOINT`` points everything at another server (the tests run a loopback Hub).
Offline mode refuses every call before any connection is made.
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
from dataclasses import dataclass, field
from pathlib import Path

from desktop.core.errors import HuacayaError
from desktop.core.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
TIMEOUT_S = 30
RETRIES = 3
WEIGHT_SUFFIXES = (".safetensors",)
SUPPORT_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "adapter_config.json",
)


class HubError(HuacayaError):
    default_hint = "Check the repository name and your connection, then try again."


class OfflineError(HubError):
    default_hint = "Turn off offline mode (Models → Hugging Face, or `--online`) to use the Hub."


class TokenRequired(HubError):
    default_hint = (
        "This model is gated or private: accept its licence on its Hub page, then add a "
        "Hugging Face token in the Models window (or `huacaya models token`)."
    )


class ConnectionLost(HubError):
    default_hint = "Check your connection; the download continues where it stopped."


class ChecksumError(HubError):
    default_hint = "The damaged file was removed; download it again."


class DiskSpaceError(HubError):
    default_hint = "Free some space or choose another models folder in Settings."


@dataclass(frozen=True)
class RepoFile:
    name: str
    size: int
    sha256: str | None  # LFS files have one
    git_sha1: str | None = None  # small files stored in git: the blob id


@dataclass
class RepoInfo:
    repo_id: str
    revision: str
    gated: bool
    files: list[RepoFile] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    repo_id: str
    likes: int
    downloads: int
    license: str
    gguf: bool
    gated: bool
    parameters: int | None = None  # from the safetensors metadata, when the Hub knows it

    @property
    def size_label(self) -> str:
        if not self.parameters:
            return "?"
        billions = self.parameters / 1e9
        return f"{billions:.1f}B" if billions >= 1 else f"{self.parameters / 1e6:.0f}M"


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1000
    return f"{count:,.1f} GB"


class HubClient:
    def __init__(self, token: Callable[[], str | None], offline: Callable[[], bool]) -> None:
        self._token = token
        self._offline = offline

    def _check_online(self) -> None:
        if self._offline():
            raise OfflineError("Huacaya is in offline mode, so it does not contact the Hub.")

    def _api(self):  # type: ignore[no-untyped-def]
        from huggingface_hub import HfApi

        return HfApi(endpoint=endpoint(), token=self._token() or False)

    def _raise(self, exc: Exception, repo_id: str) -> None:
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            RepositoryNotFoundError,
        )

        if isinstance(exc, GatedRepoError):
            raise TokenRequired(f"“{repo_id}” needs a Hugging Face token.") from exc
        if isinstance(exc, RepositoryNotFoundError):
            if self._token():
                raise HubError(
                    f"“{repo_id}” was not found on the Hub (or this token cannot see it)."
                ) from exc
            raise TokenRequired(f"“{repo_id}” was not found, or is private.") from exc
        if isinstance(exc, HfHubHTTPError):
            raise HubError(f"The Hub answered an error for “{repo_id}”: {exc}") from exc
        raise HubError(f"Could not reach the Hub: {exc}") from exc

    # -- metadata --------------------------------------------------------------------------

    def whoami(self, token: str) -> str:
        """The account name of ``token``; raises TokenError for a token the Hub refuses."""
        from desktop.core.secrets import TokenError

        self._check_online()
        from huggingface_hub import HfApi

        try:
            return str(HfApi(endpoint=endpoint()).whoami(token=token)["name"])
        except Exception as exc:  # the Hub client raises several HTTP error types
            raise TokenError(f"The Hub did not accept this token ({exc}).") from exc

    def search(
        self,
        query: str,
        gguf: bool = False,
        llama_family: bool = False,
        limit: int = 40,
        max_parameters: float | None = None,
    ) -> list[SearchResult]:
        self._check_online()
        filters = (["gguf"] if gguf else []) + (["llama"] if llama_family else [])
        expand = ["likes", "downloads", "tags", "gated", "safetensors"]
        try:
            models = self._api().list_models(
                search=query or None,
                filter=filters or None,
                sort="likes",
                limit=limit,
                expand=expand,
            )
            found = []
            for model in models:
                tags = list(model.tags or [])
                license_tag = next((t for t in tags if t.startswith("license:")), "license:?")
                safetensors = getattr(model, "safetensors", None)
                parameters = int(safetensors.total) if safetensors and safetensors.total else None
                if max_parameters and parameters and parameters > max_parameters:
                    continue
                found.append(
                    SearchResult(
                        model.id,
                        int(model.likes or 0),
                        int(model.downloads or 0),
                        license_tag.split(":", 1)[1],
                        "gguf" in tags,
                        bool(model.gated),
                        parameters,
                    )
                )
            return found
        except Exception as exc:
            self._raise(exc, query)
            raise  # unreachable: _raise always raises

    def repo_info(self, repo_id: str, revision: str | None = None) -> RepoInfo:
        self._check_online()
        try:
            info = self._api().model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as exc:
            self._raise(exc, repo_id)
            raise
        files = [
            RepoFile(
                s.rfilename,
                int(s.size or (s.lfs.size if s.lfs else 0) or 0),
                s.lfs.sha256 if s.lfs else None,
                None if s.lfs else s.blob_id,
            )
            for s in info.siblings or []
        ]
        return RepoInfo(
            repo_id, info.sha or revision or "main", bool(info.gated), files, list(info.tags or [])
        )

    @staticmethod
    def files_to_fetch(info: RepoInfo, gguf_file: str | None = None) -> list[RepoFile]:
        """Only what a conversion needs (or the one GGUF asked for)."""
        if gguf_file:
            chosen = [f for f in info.files if f.name == gguf_file]
            if not chosen:
                ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
                raise HubError(
                    f"“{info.repo_id}” has no file {gguf_file}.",
                    f"Its GGUF files: {', '.join(ggufs) or 'none'}.",
                )
            return chosen
        wanted = [
            f
            for f in info.files
            if f.name in SUPPORT_FILES or (f.name.endswith(WEIGHT_SUFFIXES) and "/" not in f.name)
        ]
        if not any(f.name.endswith(WEIGHT_SUFFIXES) for f in wanted):
            ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
            hint = (
                f"It has GGUF files; choose one with --file (e.g. {ggufs[0]})."
                if ggufs
                else "Only pickle weights (.bin) or none: not supported."
            )
            raise HubError(f"“{info.repo_id}” has no safetensors weights.", hint)
        return wanted

    # -- downloading -----------------------------------------------------------------------

    def download(
        self,
        info: RepoInfo,
        files: list[RepoFile],
        folder: Path,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> list[Path]:
        self._check_online()
        folder.mkdir(parents=True, exist_ok=True)
        total = sum(f.size for f in files)
        done = sum(_present_bytes(folder, f) for f in files)
        needed = total - done
        free = shutil.disk_usage(folder).free
        if needed > free:
            raise DiskSpaceError(
                f"Downloading {info.repo_id} needs {human_bytes(needed)} but only "
                f"{human_bytes(free)} is free on that disk."
            )
        meter = _Meter(total, done, progress)
        return [self._fetch_with_retries(info, f, folder, meter, cancel) for f in files]

    def _fetch_with_retries(
        self, info: RepoInfo, file: RepoFile, folder: Path, meter: _Meter, cancel: CancelToken
    ) -> Path:
        """A dropped connection resumes from the bytes already on disk, a few times over."""
        for attempt in range(RETRIES + 1):
            try:
                return self._fetch(info, file, folder, meter, cancel)
            except ConnectionLost:
                if attempt == RETRIES:
                    raise
                cancel.check()
                time.sleep(min(2**attempt, 8))
        raise AssertionError("unreachable")

    def _fetch(
        self, info: RepoInfo, file: RepoFile, folder: Path, meter: _Meter, cancel: CancelToken
    ) -> Path:
        target = folder / file.name
        if target.is_file() and target.stat().st_size == file.size:
            return target  # finished in an earlier run (verified before it was renamed)
        partial = target.with_name(target.name + ".partial")
        have = partial.stat().st_size if partial.exists() else 0
        if have > file.size:
            partial.unlink()
            have = 0
        digest = hashlib.sha256() if file.sha256 or not file.git_sha1 else _git_blob(file.size)
        if have:
            with partial.open("rb") as existing:
                for block in iter(lambda: existing.read(CHUNK), b""):
                    digest.update(block)
        url = (
            f"{endpoint()}/{info.repo_id}/resolve/{urllib.parse.quote(info.revision)}/"
            f"{urllib.parse.quote(file.name)}"
        )
        headers = {"User-Agent": "huacaya"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = _OPENER.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise TokenRequired(f"The Hub refused {file.name} of “{info.repo_id}”.") from exc
            raise HubError(f"The Hub answered {exc.code} for {file.name}.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectionLost(f"Could not reach the Hub: {exc}.") from exc
        with response, partial.open("ab") as out:
            if have and response.status != 206:  # the server ignored the range: start over
                out.truncate(0)
                digest = hashlib.sha256() if file.sha256 else _git_blob(file.size)
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
                f"{file.name} of “{info.repo_id}” arrived damaged (size or sha256 does not "
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
