"""The published evaluation files (and Stanford's seed tasks), downloaded when a person names
them (never shipped).

Stanford compared Alpaca with text-davinci-003 on the 252 user-oriented instructions of the
Self-Instruct paper; both the instructions and text-davinci-003's answers are in the paper's
repository (yizhongw/self-instruct, ``human_eval/``). Their authors ask that the set be used for
evaluation only, so Huacaya does not ship it: ``--prompts self-instruct`` or the side
``text-davinci-003`` (and the matching choices of the Compare window) fetch the file once from
the repository, at a pinned commit, check its size and SHA-256, and keep it in the cache
(``paths.cache_dir()``), where every later use finds it without a request.

The download is the Hub's downloader (``hub/download.py``): bytes go to ``NAME.partial``,
a dropped connection continues with a range request, and the file is renamed into place only
once its SHA-256 matches; a file that does not match is deleted, never used. A cancel removes
the partial file too (the files are a few hundred KB: starting over costs nothing, and nothing
half-fetched is left behind in the cache).

Stanford's 175 seed tasks (tatsu-lab/stanford_alpaca, ``seed_tasks.jsonl``), which Alpaca's data
generation started from, are fetched the same way for data generation (``--seed-tasks stanford``,
the Data step's "Stanford's 175"): their data is released for research use, so they are not
shipped either.

``HUACAYA_EVAL_SETS_URL`` (or ``base_url``) replaces ``https://raw.githubusercontent.com``, for
a mirror, or a loopback server in the tests.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import (
    Cancelled,
    ChecksumError,
    ConnectionLost,
    DiskSpaceError,
    EvaluationError,
    HubError,
    PublishedSetUnavailable,
)
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core.hub.download import RepoFile, download_files
from desktop.core.hub.transfer import DownloadPolicy, check_address

BASE_URL = "https://raw.githubusercontent.com"
BASE_URL_ENV = "HUACAYA_EVAL_SETS_URL"
REPOSITORY = "yizhongw/self-instruct"
# The repository's main branch when pinned; both files are unchanged since their release
# (commit 354249b, January 2023), byte for byte what the hashes below describe.
COMMIT = "0b26ccaa415992100fa32df62d41b994cf928e23"
# Patient enough for a slow link, but a server that refuses at once is reported in seconds.
POLICY = DownloadPolicy(connect_timeout=10.0, read_timeout=20.0, attempts_without_progress=3)


@dataclass(frozen=True)
class PublishedFile:
    """One file of the repository, known by its size and SHA-256."""

    name: str  # what a person types (``--prompts NAME``, a side NAME)
    label: str  # what a person reads
    path: str  # in the repository
    size: int
    sha256: str
    kind: str  # "prompts" (an instruction set), "answers" (a side) or "seeds" (seed tasks)
    repository: str = REPOSITORY
    commit: str = COMMIT

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


SELF_INSTRUCT = PublishedFile(
    "self-instruct",
    "Self-Instruct user-oriented instructions (252)",
    "human_eval/user_oriented_instructions.jsonl",
    170_193,
    "81d60a117db495cecedecd9193504fd07c5b5a42f6699ef6b0f9da10fc22f42e",
    "prompts",
)
TEXT_DAVINCI_003 = PublishedFile(
    "text-davinci-003",
    "text-davinci-003's published answers to the Self-Instruct set",
    "human_eval/predictions/text-davinci-003_predictions.jsonl",
    310_102,
    "9fbf9229c917f2c832399e4d474f0ed1a4f367fae61e5eee814f3db687e0d584",
    "answers",
)
STANFORD_SEED_TASKS = PublishedFile(
    "stanford",
    "Stanford Alpaca's 175 seed tasks",
    "seed_tasks.jsonl",
    110_934,
    "7779004fa198fdf27cf70a159363879d8a26c53329e11b436af17b3941875f48",
    "seeds",
    "tatsu-lab/stanford_alpaca",
    "761dc5bfbdeeffa89b8bff5d038781a4055f796a",  # main when pinned (May 2023)
)
PUBLISHED = {f.name: f for f in (SELF_INSTRUCT, TEXT_DAVINCI_003, STANFORD_SEED_TASKS)}


def published(name: str, kind: str) -> PublishedFile | None:
    """The published file ``name`` stands for (of ``kind``), or None. A file of that name in
    the current folder wins: a person who has a file called so means it."""
    found = PUBLISHED.get(name.strip().lower())
    if found is None or found.kind != kind or Path(name).expanduser().is_file():
        return None
    return found


def prompts_path(
    spec: str,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    hint: str | None = None,
) -> Path:
    """The instruction set file ``spec`` names: a path, or a published set's name (fetched)."""
    file = published(spec, "prompts")
    if file is None:
        return Path(spec).expanduser()
    return fetch(file, progress, cancel, hint=hint)


def base_url() -> str:
    return (os.environ.get(BASE_URL_ENV) or BASE_URL).rstrip("/")


def url_of(file: PublishedFile, base: str | None = None) -> str:
    return f"{(base or base_url()).rstrip('/')}/{file.repository}/{file.commit}/{file.path}"


def cache_folder(file: PublishedFile = SELF_INSTRUCT) -> Path:
    repository = file.repository.replace("/", "+")
    return paths.cache_dir() / "evaluation-sets" / f"{repository}@{file.commit[:12]}"


def cached_path(file: PublishedFile) -> Path | None:
    """The verified copy in the cache, or None (a copy that no longer matches is removed)."""
    path = cache_folder(file) / file.file_name
    if not path.is_file():
        return None
    if path.stat().st_size == file.size and _sha256(path) == file.sha256:
        return path
    path.unlink()  # changed on disk since it was verified: fetched again
    return None


def fetch(
    file: PublishedFile,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    *,
    base: str | None = None,
    hint: str | None = None,
    policy: DownloadPolicy = POLICY,
) -> Path:
    """The verified local copy of ``file``: from the cache, else downloaded (once) into it.

    PublishedSetUnavailable when the server cannot be reached (``hint`` says what to give
    instead), ChecksumError when what arrived is not the pinned file (nothing is kept)."""
    found = cached_path(file)
    if found is not None:
        return found
    url = url_of(file, base)
    host = urllib.parse.urlsplit(url).netloc
    folder = cache_folder(file)
    partial = folder / (file.file_name + ".partial")
    hint = hint if hint is not None else _default_hint(file)
    progress(0.0, f"Downloading {file.label} from {host}…")
    try:
        check_address(url, cancel, policy)
        entry = RepoFile(file.file_name, file.size, file.sha256)
        (path,) = download_files(
            [entry], lambda _f: url, folder, None, file.label, progress, cancel, policy
        )
    except Cancelled:
        partial.unlink(missing_ok=True)
        raise
    except ChecksumError as exc:
        partial.unlink(missing_ok=True)
        raise ChecksumError(
            f"What {host} sent for {file.label} is not the pinned file (its size or SHA-256 "
            "differs); it was not kept.",
            hint,
        ) from exc
    except ConnectionLost as exc:
        raise PublishedSetUnavailable(f"Could not reach {host}:", hint) from exc
    except DiskSpaceError:
        raise
    except HubError as exc:  # an answer other than the file (404, 403…)
        partial.unlink(missing_ok=True)
        raise EvaluationError(
            f"{host} did not send {file.label} ({exc.message.rstrip('.')}).", hint
        ) from exc
    progress(1.0, f"Downloaded {file.label}.")
    return path


def _default_hint(file: PublishedFile) -> str:
    if file.kind == "prompts":
        return "give the file with --prompts FILE."
    if file.kind == "seeds":
        return "choose a copy of seed_tasks.jsonl (or your own seed tasks) instead."
    return f"give a copy of {file.file_name} as the side instead."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
