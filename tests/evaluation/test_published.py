"""The published evaluation files (the Self-Instruct set, text-davinci-003's answers) downloaded
when named, from a loopback server playing raw.githubusercontent.com: fetched once and then read
from the cache without a request, refused when the bytes are not the pinned ones, a clear line
when the server cannot be reached, nothing half-fetched left by a cancel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.errors import Cancelled, ChecksumError, PublishedSetUnavailable
from conversion.progress import CancelToken
from desktop.core.evaluation.items import load_prompts
from desktop.core.evaluation.published import (
    BASE_URL_ENV,
    COMMIT,
    REPOSITORY,
    SELF_INSTRUCT,
    TEXT_DAVINCI_003,
    cache_folder,
    fetch,
    prompts_path,
)
from desktop.core.evaluation.sides import answer_set_for, check_sides
from desktop.core.hub.transfer import DownloadPolicy
from tests.evaluation.raw_server import LoopbackRaw
from tests.hub_server import NoNetwork

ROOT = Path(__file__).resolve().parents[2]
FAST = DownloadPolicy(connect_timeout=2, read_timeout=5, backoff_first=0.01, poll=0.02)


@pytest.fixture
def raw(
    user_oriented: Path, davinci: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopbackRaw]:
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))  # this test's cache only
    files = {
        f"{REPOSITORY}/{COMMIT}/{SELF_INSTRUCT.path}": user_oriented,
        f"{REPOSITORY}/{COMMIT}/{TEXT_DAVINCI_003.path}": davinci,
    }
    with LoopbackRaw(files) as server:
        monkeypatch.setenv(BASE_URL_ENV, server.url)
        yield server


def test_the_shared_copies_are_the_pinned_files(user_oriented: Path, davinci: Path) -> None:
    import hashlib

    for file, copy in ((SELF_INSTRUCT, user_oriented), (TEXT_DAVINCI_003, davinci)):
        data = copy.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (file.size, file.sha256)


def test_downloaded_once_then_read_from_the_cache_without_a_request(
    raw: LoopbackRaw, user_oriented: Path, davinci: Path
) -> None:
    seen: list[tuple[float, str]] = []
    path = prompts_path("self-instruct", lambda f, m="": seen.append((f, m)))
    assert path.read_bytes() == user_oriented.read_bytes()
    assert raw.requests == [f"{REPOSITORY}/{COMMIT}/{SELF_INSTRUCT.path}"]
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0 and "Downloading" in seen[0][1]
    assert len(load_prompts(path)) == 252
    assert prompts_path("self-instruct") == path  # again: from the cache
    assert len(raw.requests) == 1

    # text-davinci-003 as a side: its published answers, named so.
    check_sides(["text-davinci-003", str(path)], have_items=False)
    side = answer_set_for("text-davinci-003", None)
    assert side.name == "text-davinci-003" and len(side.answers) == 252
    assert side.path is not None and side.path.read_bytes() == davinci.read_bytes()
    answer_set_for("text-davinci-003", None)
    assert len(raw.requests) == 2
    assert sorted(p.name for p in cache_folder().iterdir()) == sorted(
        [SELF_INSTRUCT.file_name, TEXT_DAVINCI_003.file_name]
    )


def test_a_file_that_is_not_the_pinned_one_is_refused_and_not_kept(raw: LoopbackRaw) -> None:
    raw.corrupt = True
    with pytest.raises(ChecksumError, match="not the pinned file"):
        fetch(SELF_INSTRUCT, policy=FAST)
    assert list(cache_folder().iterdir()) == []
    raw.corrupt = False
    assert fetch(SELF_INSTRUCT, policy=FAST).stat().st_size == SELF_INSTRUCT.size


def test_a_cancel_mid_download_leaves_no_partial_file(raw: LoopbackRaw) -> None:
    raw.stall_after = 64 * 1024
    cancel = CancelToken()
    fractions: list[float] = []

    def progress(fraction: float, message: str = "") -> None:
        fractions.append(fraction)
        if fraction > 0:  # bytes arrived: the person presses Cancel
            cancel.cancel()

    with pytest.raises(Cancelled):
        fetch(SELF_INSTRUCT, progress, cancel, policy=FAST)
    assert 0 < max(fractions) < 1
    assert list(cache_folder().iterdir()) == []
    raw.stall_after = None  # the next try starts afresh and succeeds
    assert fetch(SELF_INSTRUCT, policy=FAST).stat().st_size == SELF_INSTRUCT.size


def test_a_dropped_connection_continues_where_it_stopped(
    raw: LoopbackRaw, user_oriented: Path
) -> None:
    raw.drop_after = 100_000
    path = fetch(SELF_INSTRUCT, policy=FAST)
    assert path.read_bytes() == user_oriented.read_bytes()
    assert raw.ranges == [None, "bytes=100000-"]  # the rest only, then verified whole


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


def test_a_server_that_cannot_be_reached_gives_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    port = _dead_port()
    with pytest.raises(PublishedSetUnavailable) as refused:
        fetch(SELF_INSTRUCT, base=f"http://127.0.0.1:{port}", policy=FAST)
    assert str(refused.value) == (
        f"Could not reach 127.0.0.1:{port}: give the file with --prompts FILE."
    )
    assert list(cache_folder().iterdir()) == []


def test_offline_the_lookup_fails_once_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    offline = NoNetwork()
    monkeypatch.setattr(socket, "getaddrinfo", offline.getaddrinfo)
    with pytest.raises(PublishedSetUnavailable) as refused:
        fetch(TEXT_DAVINCI_003, base=offline.endpoint, policy=FAST)
    host = offline.endpoint.removeprefix("https://")
    assert refused.value.message == f"Could not reach {host}:"
    assert "text-davinci-003_predictions.jsonl" in refused.value.hint
    assert offline.lookups == 1  # no retries without a network


def _huacaya(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT, timeout=300,
    )  # fmt: skip


def test_the_command_line_names_them_and_says_one_line_offline(
    raw: LoopbackRaw, davinci: Path, huacaya_home: Path, tmp_path: Path
) -> None:
    env = {"HUACAYA_HOME": str(huacaya_home), "HUACAYA_CACHE": str(tmp_path / "cache")}
    mine = tmp_path / "mine.jsonl"
    mine.write_bytes(davinci.read_bytes())
    vote = ["eval", "vote", "text-davinci-003", str(mine), "--prompts", "self-instruct"]
    done = _huacaya(*vote, "--limit", "3", "--results", env={**env, BASE_URL_ENV: raw.url})
    assert done.returncode == 0, done.stderr
    assert "0 of 3" in done.stdout and "text-davinci-003" in done.stdout
    assert len(raw.requests) == 2

    port = _dead_port()
    offline = {
        **env,
        "HUACAYA_CACHE": str(tmp_path / "empty"),
        BASE_URL_ENV: f"http://127.0.0.1:{port}",
    }
    answer = ["eval", "answer", "--model", "any", "--prompts", "self-instruct", "--out", "x.jsonl"]
    failed = _huacaya(*answer, env=offline)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        f"huacaya: error: Could not reach 127.0.0.1:{port}: give the file with --prompts FILE."
    )
