"""The Hugging Face Hub: search, repository metadata, and downloads.

Metadata and search go through huggingface-hub's ``HfApi``; files are fetched by
``hub_download`` (HTTP ranges: progress, cancel, resume and checksums are ours). Every call runs
under ``hub_transfer``'s watch, so a silent server costs a timeout and Cancel (or Ctrl+C) is
honoured within a fraction of a second. ``HF_ENDPOINT`` points everything at another server (the
tests run a loopback Hub). Offline mode refuses every call before any connection is made.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conversion.errors import (
    Cancelled,
    ConnectionLost,
    HubError,
    OfflineError,
    TokenError,
    TokenRequired,
)
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.weight_files import is_pickle_weights
from desktop.core.hub import transfer as hub_transfer
from desktop.core.hub.download import RepoFile, download_files, human_bytes, safe_relative_path
from desktop.core.hub.transfer import DownloadPolicy, call_cancellable

__all__ = ["DownloadPolicy", "HubClient", "RepoFile", "RepoInfo", "SearchResult", "human_bytes"]

DEFAULT_ENDPOINT = "https://huggingface.co"
SUPPORT_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "adapter_config.json",
)


@dataclass
class RepoInfo:
    repo_id: str
    revision: str
    gated: bool
    files: list[RepoFile] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def has_weights(self) -> bool:
        """Convertible weights (safetensors or PyTorch pickles) at the top level."""
        return any(
            "/" not in f.name
            and (f.name.endswith(".safetensors") or is_pickle_weights(Path(f.name)))
            for f in self.files
        )


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


class HubClient:
    def __init__(
        self,
        token: Callable[[], str | None],
        offline: Callable[[], bool],
        policy: DownloadPolicy | None = None,
    ) -> None:
        self._token = token
        self._offline = offline
        self.policy = policy or hub_transfer.DEFAULT_POLICY

    def _check_online(self) -> None:
        if self._offline():
            raise OfflineError("Huacaya is in offline mode, so it does not contact the Hub.")

    def _api(self):
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
            raise TokenRequired(
                f"“{repo_id}” was not found on the Hub.",
                "Check the name (owner/name). If it is private or gated, add a Hugging Face "
                "token in the Models window (or `huacaya models token`) and try again.",
            ) from exc
        if isinstance(exc, HfHubHTTPError):
            raise HubError(f"The Hub answered an error for “{repo_id}”: {exc}") from exc
        raise HubError(f"Could not reach the Hub: {exc}") from exc

    # -- metadata --------------------------------------------------------------------------

    def whoami(self, token: str, cancel: CancelToken = NEVER_CANCELLED) -> str:
        """The account name of ``token``; raises TokenError for a token the Hub refuses."""
        self._check_online()
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi(endpoint=endpoint())
        try:
            answer = call_cancellable(
                lambda: api.whoami(token=token), cancel, self.policy, "the token check"
            )
            return str(answer["name"])
        except HfHubHTTPError as exc:
            raise TokenError(f"The Hub did not accept this token ({exc}).") from exc
        except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError) as exc:  # odd answers
            raise HubError(f"Could not check the token with the Hub: {exc}") from exc

    def search(
        self,
        query: str,
        gguf: bool = False,
        llama_family: bool = False,
        limit: int = 40,
        max_parameters: float | None = None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> list[SearchResult]:
        self._check_online()
        filters = (["gguf"] if gguf else []) + (["llama"] if llama_family else [])
        expand = ["likes", "downloads", "tags", "gated", "safetensors"]
        api = self._api()
        try:
            models = call_cancellable(
                lambda: list(
                    api.list_models(
                        search=query or None,
                        filter=filters or None,
                        sort="likes",
                        limit=limit,
                        expand=expand,
                    )
                ),
                cancel,
                self.policy,
                "the search",
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
        except (Cancelled, ConnectionLost):
            raise
        except Exception as exc:
            self._raise(exc, query)
            raise  # unreachable: _raise always raises

    def repo_info(
        self, repo_id: str, revision: str | None = None, cancel: CancelToken = NEVER_CANCELLED
    ) -> RepoInfo:
        self._check_online()
        api = self._api()
        try:
            info = call_cancellable(
                lambda: api.model_info(repo_id, revision=revision, files_metadata=True),
                cancel,
                self.policy,
                f"about “{repo_id}”",
            )
        except (Cancelled, ConnectionLost):
            raise
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
            safe_relative_path(gguf_file)
            chosen = [f for f in info.files if f.name == gguf_file]
            if not chosen:
                ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
                raise HubError(
                    f"“{info.repo_id}” has no file {gguf_file}.",
                    f"Its GGUF files: {', '.join(ggufs) or 'none'}.",
                )
            return chosen
        top_level = [f for f in info.files if "/" not in f.name]
        weights = [f for f in top_level if f.name.endswith(".safetensors")]
        if any(f.name.startswith("model") for f in weights):  # Mistral: not consolidated.* too
            weights = [f for f in weights if not f.name.startswith("consolidated")]
        if not weights:  # PyTorch pickles (Alpaca-era repos), read by our safe reader
            weights = [f for f in top_level if is_pickle_weights(Path(f.name))]
        if not info.has_weights:
            ggufs = [f.name for f in info.files if f.name.endswith(".gguf")]
            hint = (
                f"It has GGUF files; choose one with --file (e.g. {ggufs[0]})."
                if ggufs
                else "A model on the Hub needs *.safetensors or pytorch_model*.bin weights."
            )
            raise HubError(f"“{info.repo_id}” has no weights Huacaya can convert.", hint)
        return [f for f in info.files if f.name in SUPPORT_FILES] + weights

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

        def url_of(file: RepoFile) -> str:
            revision, name = urllib.parse.quote(info.revision), urllib.parse.quote(file.name)
            return f"{endpoint()}/{info.repo_id}/resolve/{revision}/{name}"

        return download_files(
            files, url_of, folder, self._token(), info.repo_id, progress, cancel, self.policy
        )
