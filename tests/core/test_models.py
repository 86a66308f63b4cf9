"""Getting models: the Hub (through a loopback server speaking its protocol), tokens, offline
mode, the download → convert → quantize → verify → register pipeline, and imports."""

from __future__ import annotations

import itertools
import multiprocessing
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from conversion.errors import (
    ChecksumError,
    DiskSpaceError,
    HuacayaError,
    JobError,
    ModelFileError,
    OfflineError,
    TokenError,
    TokenRequired,
    UnsupportedModelError,
)
from conversion.gguf_file import read_gguf_info
from desktop.cli import main as cli
from desktop.core import secrets
from desktop.core.hub.client import HubClient, human_bytes
from desktop.core.jobs.runner import JobRunner
from desktop.core.jobs.store import JobSpec, JobStore
from desktop.core.models.library import ModelLibrary
from tests.helpers import (
    copy_with_renamed_key,
    text_file_named_gguf,
    truncated_copy,
    with_architecture,
)
from tests.hub_server import GOOD_TOKEN, LoopbackHub
from tests.scoring import CAPITAL_OF_FRANCE, PARIS_MARGIN, Scorer


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def hub(hub_endpoint: LoopbackHub) -> HubClient:
    return HubClient(secrets.get_token, lambda: False)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    secrets.delete_token()
    yield backend
    secrets.delete_token()
    keyring.set_keyring(previous)


def runner(hub: HubClient) -> tuple[JobRunner, JobStore, ModelLibrary]:
    store, library = JobStore(), ModelLibrary()
    return JobRunner(store, library, hub), store, library


def knows_paris(path: Path) -> bool:
    with Scorer(path) as scorer:
        return scorer.prefers(*CAPITAL_OF_FRANCE).margin >= PARIS_MARGIN


def test_search_finds_repositories_with_filters(hub: HubClient) -> None:
    results = hub.search("smollm2")
    assert [r.repo_id for r in results][:2] == ["test-org/smollm2-gguf", "test-org/smollm2-hf"]
    assert results[0].gguf and results[0].license == "apache-2.0" and results[0].likes == 9
    assert [r.repo_id for r in hub.search("smollm2", gguf=True, llama_family=True)] == [
        "test-org/smollm2-gguf"
    ]
    checkpoint = next(r for r in results if r.repo_id == "test-org/smollm2-hf")
    assert checkpoint.size_label == "135M"
    small = hub.search("smollm2", max_parameters=100e6)
    assert "test-org/smollm2-hf" not in [r.repo_id for r in small]


def test_pipeline_from_the_hub_registers_a_working_model(hub: HubClient) -> None:
    run, store, library = runner(hub)
    progress: list[tuple[float, str]] = []
    job = store.create(JobSpec("hub", "test-org/smollm2-hf", quant="q8_0"))
    entry = run.run(job, lambda f, m="": progress.append((f, m)))
    assert entry.quantization == "Q8_0" and entry.architecture == "llama"
    assert read_gguf_info(library.path_of(entry)).metadata["general.name"] == "smollm2-hf"
    assert knows_paris(library.path_of(entry))
    steps = [m.split(":")[0] for _, m in progress]
    assert steps.index("download") < steps.index("convert") < steps.index("quantize")
    assert steps.index("quantize") < steps.index("verify") < steps.index("register")
    assert any("MB/s" in m and "left" in m for _, m in progress)  # speed and ETA
    fractions = [f for f, _ in progress]
    assert all(b >= a for a, b in itertools.pairwise(fractions)), fractions
    assert fractions[-1] == 1.0
    assert [p.name for p in store.folder(job).iterdir()] == ["job.json"]  # work files gone
    assert store.load(job.id).state == "done"


def test_one_gguf_file_is_fetched_verified_and_registered(hub: HubClient, hub_server) -> None:  # type: ignore[no-untyped-def]
    run, store, library = runner(hub)
    before = hub_server.bytes_served
    job = store.create(
        JobSpec(
            "hub",
            "test-org/smollm2-gguf",
            quant="",
            gguf_file="smollm2.Q4_1.gguf",
            name="Smol from GGUF",
        )
    )
    entry = run.run(job)
    assert entry.name == "Smol from GGUF" and entry.quantization == "Q4_1"
    assert hub_server.bytes_served - before == library.path_of(entry).stat().st_size


def test_a_corrupted_byte_fails_the_checksum_and_registers_nothing(hub, hub_server) -> None:  # type: ignore[no-untyped-def]
    hub_server.knobs.corrupt.add("smollm2.Q4_1.gguf")
    run, store, library = runner(hub)
    job = store.create(
        JobSpec("hub", "test-org/corrupt-gguf", quant="", gguf_file="smollm2.Q4_1.gguf")
    )
    with pytest.raises(ChecksumError, match="sha256"):
        run.run(job)
    assert library.entries() == []
    assert store.load(job.id).state == "failed"
    assert [p.name for p in store.folder(job).iterdir()] == ["job.json"]


def test_a_dropped_connection_resumes_without_refetching(hub, hub_server) -> None:  # type: ignore[no-untyped-def]
    info = hub.repo_info("test-org/smollm2-gguf")
    files = hub.files_to_fetch(info, "smollm2.Q4_1.gguf")
    hub_server.knobs.drop_after = 30 << 20
    before = hub_server.bytes_served
    folder = Path(hub_server.url.split(":")[-1])  # any fresh folder name
    target = JobStore().root / f"drop-{folder}"
    hub.download(info, files, target)
    assert hub_server.bytes_served - before == files[0].size  # nothing fetched twice
    assert (target / "smollm2.Q4_1.gguf").stat().st_size == files[0].size


def _download_in_child(url: str, home: str, folder: str) -> None:
    import os

    os.environ["HF_ENDPOINT"] = url
    os.environ["HUACAYA_HOME"] = home
    client = HubClient(lambda: None, lambda: False)
    info = client.repo_info("test-org/smollm2-hf")
    client.download(info, client.files_to_fetch(info), Path(folder))


def test_a_killed_download_resumes_without_refetching_completed_bytes(
    hub: HubClient, hub_server: LoopbackHub, tmp_path: Path, huacaya_home: Path
) -> None:
    hub_server.knobs.delay_per_mb = 0.02
    folder = tmp_path / "download"
    child = multiprocessing.get_context("spawn").Process(
        target=_download_in_child, args=(hub_server.url, str(huacaya_home), str(folder))
    )
    served_before = hub_server.bytes_served
    child.start()
    partial = folder / "model.safetensors.partial"
    deadline = 600
    while deadline and not (partial.exists() and partial.stat().st_size > 60 << 20):
        child.join(0.1)
        deadline -= 1
    child.kill()  # like a quit, a crash or a closed lid
    child.join()
    hub_server.knobs.delay_per_mb = 0.0
    kept = sum(p.stat().st_size for p in folder.iterdir())
    assert kept > 60 << 20
    served_first = hub_server.bytes_served - served_before
    info = hub.repo_info("test-org/smollm2-hf")
    files = hub.files_to_fetch(info)
    hub.download(info, files, folder)
    total = sum(f.size for f in files)
    served_second = hub_server.bytes_served - served_before - served_first
    assert served_second == total - kept
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files)


def test_gated_repo_needs_a_token_kept_in_the_keychain(hub, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenRequired, match="needs a Hugging Face token") as caught:
        hub.repo_info("test-org/gated-gguf")
    assert "token" in caught.value.hint
    with pytest.raises(TokenError):
        hub.whoami("hf_wrong")
    assert hub.whoami(GOOD_TOKEN) == "loopback-user"
    assert secrets.set_token(GOOD_TOKEN) == "in the keychain"
    assert memory_keyring.store[(secrets.SERVICE, secrets.ACCOUNT)] == GOOD_TOKEN
    assert hub.repo_info("test-org/gated-gguf").gated  # …and now it opens


def test_the_token_does_not_follow_a_redirect_to_another_host(hub, hub_server, memory_keyring):  # type: ignore[no-untyped-def]
    secrets.set_token(GOOD_TOKEN)
    hub_server.knobs.redirect_to_cdn = True
    info = hub.repo_info("test-org/gated-gguf")
    files = hub.files_to_fetch(info, "smollm2.Q4_1.gguf")
    hub.download(info, files, JobStore().root / "redirected")
    assert hub_server.cdn_authorizations == [None]  # the file came from the other host, tokenless


def test_without_a_keychain_the_token_goes_to_the_hub_clients_token_file(hub) -> None:  # type: ignore[no-untyped-def]
    from keyring.backends.fail import Keyring as NoKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        where = secrets.set_token(GOOD_TOKEN)
        token_file = secrets.hub_token_file()
        assert str(token_file) in where and "no keychain" in where
        assert token_file.read_text() == GOOD_TOKEN
        assert token_file.stat().st_mode & 0o077 == 0  # readable by its owner only
        secrets._session.clear()  # a later command: nothing of this one's memory survives
        assert secrets.get_token() == GOOD_TOKEN
        assert hub.repo_info("test-org/gated-gguf").gated
        assert secrets.delete_token() == [str(token_file)]
        assert secrets.get_token() is None and not token_file.exists()
    finally:
        secrets.delete_token()
        keyring.set_keyring(previous)


def test_disk_space_is_checked_before_downloading(hub, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    info = hub.repo_info("test-org/smollm2-gguf")
    files = hub.files_to_fetch(info, "smollm2.Q4_1.gguf")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10_000_000))
    needed = re.escape(human_bytes(files[0].size))
    with pytest.raises(DiskSpaceError, match=rf"needs {needed} but only 10\.0 MB is free"):
        hub.download(info, files, tmp_path / "dl")
    assert not (tmp_path / "dl").exists() or list((tmp_path / "dl").iterdir()) == []


def test_offline_mode_opens_no_socket(monkeypatch, hub_server) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    connections: list[str] = []  # new connections, and traffic on reused ones

    def watch(name: str) -> None:
        real = getattr(socket.socket, name)

        def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            connections.append(name)
            return real(self, *args, **kwargs)

        monkeypatch.setattr(socket.socket, name, spy)

    for name in ("connect", "connect_ex", "send", "sendall"):
        watch(name)
    offline = HubClient(lambda: GOOD_TOKEN, lambda: True)
    for call in (
        lambda: offline.search("smol"),
        lambda: offline.repo_info("test-org/smollm2-hf"),
        lambda: offline.whoami(GOOD_TOKEN),
    ):
        with pytest.raises(OfflineError, match="offline mode"):
            call()
    run, store, _library = runner(offline)
    with pytest.raises(OfflineError):
        run.run(store.create(JobSpec("hub", "test-org/smollm2-hf")))
    assert connections == []
    online = HubClient(lambda: None, lambda: False)
    online.search("smol")
    assert connections  # the check itself can see a connection


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda src, dst: truncated_copy(src, dst), ModelFileError, "truncated"),
        (lambda src, dst: text_file_named_gguf(dst), ModelFileError, "not a GGUF"),
        (
            lambda src, dst: with_architecture(src, dst, b"llamx"),
            UnsupportedModelError,
            "architecture “llamx”",
        ),
    ],
    ids=["truncated", "text", "architecture"],
)
def test_bad_gguf_imports_are_refused_and_the_library_is_unchanged(
    starter_path: Path,
    tmp_path: Path,
    make,
    error: type[HuacayaError],
    message: str,
    hub: HubClient,
) -> None:
    bad = make(starter_path, tmp_path / "model.gguf")
    run, store, library = runner(hub)
    library.ensure_starter()
    before = sorted(p.name for p in library.root.rglob("*"))
    with pytest.raises(error, match=message):
        run.run(store.create(JobSpec("import", str(bad), quant="")))
    assert sorted(p.name for p in library.root.rglob("*")) == before
    assert bad.exists()  # the user's file is never touched


def test_importing_a_gguf_copies_verifies_and_keeps_the_original(starter_path, hub) -> None:  # type: ignore[no-untyped-def]
    run, store, library = runner(hub)
    entry = run.run(store.create(JobSpec("import", str(starter_path), quant="", name="Copy")))
    assert entry.name == "Copy" and library.path_of(entry) != starter_path
    assert starter_path.exists()
    library.rename(entry.id, "Renamed")
    assert library.get(entry.id).name == "Renamed"
    library.remove(entry.id)
    assert [e.id for e in library.entries()] == []


def test_an_import_is_named_from_its_metadata_and_a_second_one_is_refused(
    starter_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As typed in a terminal: the same GGUF imported twice is copied once."""
    farm = copy_with_renamed_key(starter_path, tmp_path / "farm.Q4_1.gguf", b"Mix1", b"Farm")
    assert cli.main(["models", "import", str(farm), "--quant", "none"]) == 0
    assert "Installed “Smollm2 135M 8k Lc100K Farm Ep2 Q4_1”" in capsys.readouterr().out
    library = ModelLibrary()
    folders = sorted(p.name for p in library.root.iterdir())
    assert cli.main(["models", "import", str(farm), "--quant", "none"]) != 0
    said = capsys.readouterr().err
    assert "“farm.Q4_1.gguf” is already installed as “Smollm2 135M 8k Lc100K Farm Ep2 Q4_1”" in said
    assert sorted(p.name for p in library.root.iterdir()) == folders  # no second copy
    library.ensure_starter()  # as the app's first start does
    assert cli.main(["models", "import", str(starter_path), "--quant", "none"]) != 0
    assert "already installed as “SmolLM2 135M Instruct (starter)”" in capsys.readouterr().err


def _job_in_child(url: str, home: str, job_id: str) -> None:
    import os

    os.environ["HF_ENDPOINT"] = url
    os.environ["HUACAYA_HOME"] = home
    store = JobStore()
    JobRunner(store, ModelLibrary(), HubClient(lambda: None, lambda: False)).run(store.load(job_id))


def test_a_job_killed_mid_download_resumes_after_a_restart(
    hub: HubClient, hub_server: LoopbackHub, huacaya_home: Path
) -> None:
    run, store, library = runner(hub)
    job = store.create(
        JobSpec(
            "hub", "test-org/smollm2-gguf", quant="", gguf_file="smollm2.Q4_1.gguf", name="Resumed"
        )
    )
    hub_server.knobs.delay_per_mb = 0.05
    child = multiprocessing.get_context("spawn").Process(
        target=_job_in_child, args=(hub_server.url, str(huacaya_home), job.id)
    )
    before = hub_server.bytes_served
    child.start()
    partial = store.folder(job) / "download" / "smollm2.Q4_1.gguf.partial"
    for _ in range(600):
        if partial.exists() and partial.stat().st_size > 30 << 20:
            break
        child.join(0.1)
    child.kill()  # the app quit (or crashed) in the middle
    child.join()
    hub_server.knobs.delay_per_mb = 0.0
    kept = partial.stat().st_size
    assert [j.id for j in store.unfinished()] == [job.id]  # it is picked up at the next start
    first_run = hub_server.bytes_served - before
    entry = run.run(store.load(job.id))
    size = library.path_of(entry).stat().st_size
    assert hub_server.bytes_served - before - first_run == size - kept
    assert store.unfinished() == [] and entry.name == "Resumed"


def test_any_failure_of_a_job_is_recorded_with_its_reason(hub: HubClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run, store, library = runner(hub)
    job = store.create(JobSpec("hub", "test-org/smollm2-gguf", gguf_file="smollm2.Q4_1.gguf"))

    def disk_gone(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(run, "_obtain", disk_gone)
    with pytest.raises(JobError, match="Input/output error"):
        run.run(job)
    record = store.load(job.id)
    assert record.state == "failed" and "Input/output error" in record.error
    assert record not in store.unfinished()  # shown with its reason, never restarted blindly
    assert library.entries() == []
