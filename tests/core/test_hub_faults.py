"""Downloads against a hostile or broken loopback Hub: silent servers, dripping and endless
bodies, a link that keeps dropping, file names that try to leave the download folder, subfolders,
Ctrl+C at every stage, a failed pull run again, and the token without a keychain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from conversion.errors import (
    Cancelled,
    ChecksumError,
    ConnectionLost,
    HubUnreachable,
    UnsafeFileName,
)
from conversion.progress import CancelToken
from desktop.cli import main as cli
from desktop.core import secrets
from desktop.core.hub import transfer as hub_transfer
from desktop.core.hub.client import HubClient, RepoFile
from desktop.core.hub.download import download_files, safe_relative_path
from desktop.core.hub.transfer import DownloadPolicy
from desktop.core.jobs.store import JobStore
from desktop.core.models.library import ModelLibrary
from desktop.core.settings import SettingsStore
from tests.core.test_models import MemoryKeyring
from tests.hub_server import GOOD_TOKEN, LoopbackHub, NoNetwork

GGUF = "smollm2.Q4_1.gguf"
# impatient, so that each fault costs a second or two
FAST = DownloadPolicy(
    connect_timeout=0.5,
    read_timeout=1.0,
    metadata_timeout=1.0,
    low_speed_bytes=1024,
    low_speed_window=1.0,
    attempts_without_progress=3,
    backoff_first=0.05,
    backoff_max=0.2,
    poll=0.05,
)


@pytest.fixture
def fast(hub_endpoint: LoopbackHub, monkeypatch: pytest.MonkeyPatch) -> HubClient:
    monkeypatch.setattr(hub_transfer, "DEFAULT_POLICY", FAST)  # the command line's hub too
    return HubClient(secrets.get_token, lambda: False)


@pytest.fixture
def no_keychain() -> Iterator[None]:
    from keyring.backends.fail import Keyring as NoKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    yield
    secrets.delete_token()
    keyring.set_keyring(previous)


def gguf_file(hub: HubClient, repo: str = "test-org/smollm2-gguf") -> tuple:  # type: ignore[type-arg]
    info = hub.repo_info(repo)
    return info, hub.files_to_fetch(info, GGUF)


def pull(*args: str) -> int:
    return cli.main(["models", "pull", *args, "--quant", "none"])


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *("../../escape.gguf", "/etc/escape.gguf", "a/../../b.gguf", "a\\..\\b.gguf"),
        *("C:escape.gguf", "a//b.gguf", "./a.gguf", "", "a/\x00.gguf", "a/\n.gguf"),
    ],
)
def test_names_that_could_leave_the_download_folder_are_refused(name: str) -> None:
    with pytest.raises(UnsafeFileName):
        safe_relative_path(name)


def test_a_gguf_in_a_repository_subfolder_is_pulled_into_that_subfolder(
    fast: HubClient, hub_server: LoopbackHub, starter_path: Path, tmp_path: Path
) -> None:
    hub_server.add_repo("test-org/quants", {f"Q4_1/{GGUF}": starter_path}, tags=["gguf"])
    info = fast.repo_info("test-org/quants")
    [path] = fast.download(info, fast.files_to_fetch(info, f"Q4_1/{GGUF}"), tmp_path / "dl")
    assert path == tmp_path / "dl" / "Q4_1" / GGUF and path.stat().st_size > 0
    assert pull("test-org/quants", "--file", f"Q4_1/{GGUF}", "--name", "Quant") == 0
    assert [e.name for e in ModelLibrary().entries()] == ["Quant"]


def test_a_file_named_to_escape_is_refused_before_anything_is_fetched(
    fast: HubClient, hub_server: LoopbackHub, starter_path: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    hub_server.add_repo("test-org/escape", {f"../../{GGUF}": starter_path}, tags=["gguf"])
    before = len(hub_server.requests)
    assert pull("test-org/escape", "--file", f"../../{GGUF}") == 1
    assert "unsafe name" in capsys.readouterr().err
    info = fast.repo_info("test-org/escape")
    with pytest.raises(UnsafeFileName):
        fast.download(info, info.files, tmp_path / "a" / "b" / "dl")
    assert not [r for r in hub_server.requests[before:] if "/resolve/" in r]
    assert not list(tmp_path.rglob(GGUF))


# -- flaky links -----------------------------------------------------------------------------


def test_a_link_dropping_every_20_mb_finishes_without_fetching_anything_twice(
    fast: HubClient, hub_server: LoopbackHub, tmp_path: Path
) -> None:
    info, files = gguf_file(fast)
    assert files[0].size > 80 << 20  # more drops than the fruitless-attempt budget
    hub_server.knobs.drop_every = 20 << 20
    before = hub_server.bytes_served
    [path] = fast.download(info, files, tmp_path / "dl")
    assert path.stat().st_size == files[0].size
    assert hub_server.bytes_served - before == files[0].size


def test_a_failed_pull_keeps_its_bytes_and_running_it_again_continues(
    fast: HubClient, hub_server: LoopbackHub, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    # 30 MB per attempt counts as no progress here, so the budget of 3 runs out at 90 MB
    monkeypatch.setattr(
        hub_transfer, "DEFAULT_POLICY", DownloadPolicy(**{**vars(FAST), "progress_bytes": 64 << 20})
    )
    hub_server.knobs.drop_every = 30 << 20
    before = hub_server.bytes_served
    assert pull("test-org/smollm2-gguf", "--file", GGUF) == 1
    error = capsys.readouterr().err
    assert "made no progress in 3 attempts" in error and "94.4 MB already fetched" in error
    [job] = JobStore().all()
    assert job.state == "failed"
    kept = (JobStore().folder(job) / "download" / f"{GGUF}.partial").stat().st_size
    assert kept == 3 * (30 << 20) == hub_server.bytes_served - before
    hub_server.reset()
    size = gguf_file(fast)[1][0].size
    before = hub_server.bytes_served
    assert pull("test-org/smollm2-gguf", "--file", GGUF) == 0
    assert hub_server.bytes_served - before == size - kept  # continued, not started over
    assert JobStore().all() == [] and len(ModelLibrary().entries()) == 1


def test_a_body_that_never_comes_ends_the_attempt_and_the_download_fails_clearly(
    fast: HubClient, hub_server: LoopbackHub, tmp_path: Path
) -> None:
    info, files = gguf_file(fast)
    hub_server.knobs.stall_body = True
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="made no progress in 3 attempts") as caught:
        fast.download(info, files, tmp_path / "dl")
    assert time.monotonic() - started < 10
    assert "run the same download again" in caught.value.hint


def test_a_server_dripping_bytes_counts_as_no_progress(
    fast: HubClient, hub_server: LoopbackHub, tmp_path: Path
) -> None:
    info, files = gguf_file(fast)
    hub_server.knobs.drip_every = 0.1
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="made no progress"):
        fast.download(info, files, tmp_path / "dl")
    assert time.monotonic() - started < 15


def test_an_endless_body_never_writes_more_than_the_listed_size(
    fast: HubClient, hub_server: LoopbackHub, tmp_path: Path
) -> None:
    hub_server.knobs.endless_body = True
    size = 1_000_000
    url = f"{hub_server.url}/test-org/smollm2-gguf/resolve/main/{GGUF}"
    before = hub_server.bytes_served
    [path] = download_files([RepoFile("junk.bin", size, None)], lambda f: url, tmp_path, None, "x")
    assert path.stat().st_size == size  # no hash to check: the size is the only bound
    with pytest.raises(ChecksumError):
        download_files([RepoFile("junk.gguf", size, "0" * 64)], lambda f: url, tmp_path, None, "x")
    assert not (tmp_path / "junk.gguf").exists() and not (tmp_path / "junk.gguf.partial").exists()
    time.sleep(0.5)  # the server notices the closed connection
    assert hub_server.bytes_served - before < 64 << 20  # it stopped reading, too


# -- Cancel and Ctrl+C -----------------------------------------------------------------------


def _cancel_when(condition, cancel: CancelToken) -> list[float]:  # type: ignore[no-untyped-def]
    """Cancel as soon as ``condition()`` holds; returns [the moment it cancelled]."""
    moment: list[float] = []

    def watch() -> None:
        while not condition():
            time.sleep(0.02)
        time.sleep(0.3)
        moment.append(time.monotonic())
        cancel.cancel()

    threading.Thread(target=watch, daemon=True).start()
    return moment


@pytest.mark.parametrize("stage", ["metadata", "body"])
def test_cancel_is_honoured_within_a_second_while_the_server_is_silent(
    hub_endpoint: LoopbackHub, tmp_path: Path, stage: str
) -> None:
    patient = HubClient(lambda: None, lambda: False)  # the default, minutes-long timeouts
    info, files = gguf_file(patient)
    setattr(hub_endpoint.knobs, f"stall_{stage}", True)
    cancel = CancelToken()
    asked = len(hub_endpoint.requests)
    moment = _cancel_when(lambda: len(hub_endpoint.requests) > asked, cancel)
    with pytest.raises(Cancelled):
        if stage == "metadata":
            patient.repo_info("test-org/smollm2-gguf", cancel=cancel)
        else:
            patient.download(info, files, tmp_path / "dl", cancel=cancel)
    assert time.monotonic() - moment[0] < 1.0


@pytest.mark.parametrize("stage", ["metadata", "body"])
def test_ctrl_c_stops_a_pull_within_a_second(
    hub_endpoint: LoopbackHub, huacaya_home: Path, stage: str
) -> None:
    setattr(hub_endpoint.knobs, f"stall_{stage}", True)
    marker = "/resolve/" if stage == "body" else "/api/models/"
    asked = len(hub_endpoint.requests)
    env = {**os.environ, "HF_ENDPOINT": hub_endpoint.url, "HUACAYA_HOME": str(huacaya_home)}
    command = [sys.executable, "-m", "desktop", "models", "pull", "test-org/smollm2-gguf"]
    child = subprocess.Popen(
        [*command, "--file", GGUF, "--quant", "none"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(marker in r for r in hub_endpoint.requests[asked:]):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = child.communicate(timeout=30)
        assert time.monotonic() - sent < 1.0, err
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 1 and "Cancelled" in err and "Traceback" not in err


# -- the token -------------------------------------------------------------------------------


def test_token_on_a_fresh_install_is_stored_despite_offline_mode(
    hub_endpoint: LoopbackHub, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": GOOD_TOKEN)
    try:
        assert SettingsStore().settings.offline  # a fresh install
        assert cli.main(["models", "token"]) == 0
        assert "in the keychain" in capsys.readouterr().out
        assert backend.store[(secrets.SERVICE, secrets.ACCOUNT)] == GOOD_TOKEN
        assert len([r for r in hub_endpoint.requests if "whoami" in r]) == 0  # offline: unsent
        SettingsStore().update(offline=False)
        assert cli.main(["models", "token"]) == 0
        assert "Token of loopback-user stored in the keychain" in capsys.readouterr().out
    finally:
        secrets.delete_token()
        keyring.set_keyring(previous)


def test_without_a_keychain_a_stored_token_serves_a_later_command(
    hub_endpoint: LoopbackHub, no_keychain: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("getpass.getpass", lambda prompt="": GOOD_TOKEN)
    assert cli.main(["models", "token"]) == 0
    out = capsys.readouterr().out
    assert str(secrets.hub_token_file()) in out and "no keychain" in out
    env = {**os.environ, "HF_ENDPOINT": hub_endpoint.url}  # a new process, as a new command
    script = (
        "from desktop.core import secrets; from desktop.core.hub.client import HubClient;"
        "print(HubClient(secrets.get_token, lambda: False).repo_info('test-org/gated-gguf').gated)"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr
    assert cli.main(["models", "token", "--remove"]) == 0
    assert secrets.get_token() is None


def test_hf_token_in_the_environment_opens_gated_repositories(
    hub_endpoint: LoopbackHub, no_keychain: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hub = HubClient(secrets.get_token, lambda: False)
    with pytest.raises(Exception, match="needs a Hugging Face token"):
        hub.repo_info("test-org/gated-gguf")
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    info, files = gguf_file(hub, "test-org/gated-gguf")
    [path] = hub.download(info, files, tmp_path / "dl")
    assert path.stat().st_size == files[0].size


# -- no network ------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["search", "repo_info", "whoami", "pull"])
def test_without_a_network_the_hub_fails_at_once_with_one_sentence(
    call: str, no_network: NoNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed address lookup is not retried (huggingface-hub would try five more times over
    some twenty seconds), and the person reads one plain sentence, no errno."""
    hub = HubClient(lambda: None, lambda: False)
    if call == "pull":  # the command line, as a person types it
        assert pull("test-org/smollm2-gguf", "--file", GGUF) != 0
        said = capsys.readouterr().err
    else:
        with pytest.raises(HubUnreachable) as caught:
            if call == "search":
                hub.search("smollm2")
            elif call == "repo_info":
                hub.repo_info("test-org/smollm2-gguf")
            else:
                hub.whoami(GOOD_TOKEN)
        said = str(caught.value)
    assert no_network.lookups == 1
    assert "Errno" not in said and "repository name" not in said
    assert "cannot reach hub.offline.invalid: check that this computer is connected" in said
    assert said.strip().count(". ") == 0  # one sentence
