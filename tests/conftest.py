"""Shared fixtures: a private HUACAYA_HOME per test, offscreen Qt, the real starter model."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Offscreen, on a common laptop's 1280×800 screen: every window must fit it at every font size.
os.environ.setdefault(
    "QT_QPA_PLATFORM",
    f"offscreen:configfile={Path(__file__).with_name('screen_1280x800.json')}",
)

from desktop.core import paths
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.starter import starter_model_path
from desktop.core.settings import GenerationSettings
from tests.hub_server import LoopbackHub, NoNetwork
from tests.scoring import Reference, greedy_reference

# A question for tests of plumbing (streaming, history, terminal, bundle): every token of the
# starter model's greedy answer, its end included, leads the runner-up by more than a logit, so
# every machine gives the same short answer. Tests compare answers with what the same run
# produced, never with facts (tests/scoring.py); "What is the capital of France?" is a near-tie
# on its very first token.
COUNT = "List the numbers from 1 to 5, separated by commas."
# Questions whose greedy answers lead by more than a logit for many tokens: for tests that
# compare answers decoded together with answers asked alone.
QUESTIONS = [
    COUNT,
    "Name the days of the week.",
    "Name the months of the year.",
    "Count from 1 to 10.",
]


def greedy(max_tokens: int = 64) -> GenerationSettings:
    """Pure greedy decoding (no repeat penalty), so scored margins describe what was chosen."""
    return GenerationSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=max_tokens, seed=1)


@contextmanager
def scratch_folder(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A module fixture's own temporary folder, removed when the module is done with it.

    Checkpoints, training runs and bundles are hundreds of MB each; kept to the end of the
    session (pytest's default for ``mktemp``), they added up to 15 GB and filled a CI machine's
    disk. Per-test ``tmp_path`` folders go as each test passes (``tmp_path_retention_policy``)."""
    folder = factory.mktemp(name)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache folder (``HUACAYA_CACHE``) for all tests' homes and their children: it holds
    what is worked out again in every fresh home otherwise, such as the verdict of opening each
    model in a child process first. Tests of such a check point it at a folder of their own."""
    path = tmp_path_factory.mktemp("cache")
    previous = os.environ.get(paths.CACHE_ENV)
    os.environ[paths.CACHE_ENV] = str(path)
    yield path
    if previous is None:
        os.environ.pop(paths.CACHE_ENV, None)
    else:
        os.environ[paths.CACHE_ENV] = previous


@pytest.fixture(autouse=True)
def system_theme_after() -> Iterator[None]:
    """Theme and font belong to the one QApplication of the test process: a test that changes
    them in Settings must not leave the next tests' windows dark, in a larger font (rows taller,
    buttons below the fold) — as app.py sets them from each user's settings at start."""
    yield
    if "desktop.ui.theme" in sys.modules:
        from PySide6.QtWidgets import QApplication

        from desktop.ui.theme import apply_theme

        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, "system", 0)


@pytest.fixture(autouse=True)
def app_logging_after() -> Iterator[None]:
    """A test that sets the app's logging up (the terminal commands run in-process do) must not
    leave later tests logging into its home's log file, removed once it passes."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    if hasattr(root, "_huacaya_configured"):
        delattr(root, "_huacaya_configured")


@pytest.fixture(autouse=True)
def huacaya_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "huacaya-home"
    monkeypatch.setenv("HUACAYA_HOME", str(home))
    # the Hugging Face token of whoever runs the tests stays out of them
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    return home


@pytest.fixture(scope="session")
def starter_path() -> Path:
    return starter_model_path()


@pytest.fixture(scope="session")
def smollm_checkpoint(tmp_path_factory: pytest.TempPathFactory, starter_path: Path) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face checkpoint, rebuilt from the starter GGUF."""
    from benchmarks.checkpoints import build_smollm_checkpoint

    return build_smollm_checkpoint(starter_path, tmp_path_factory.mktemp("smollm2-hf"))


@pytest.fixture(scope="session")
def hub_server(smollm_checkpoint: Path, starter_path: Path) -> Iterator[LoopbackHub]:
    """A loopback Hugging Face Hub serving that checkpoint, the starter GGUF and variants."""
    files = {p.name: p for p in smollm_checkpoint.iterdir() if p.is_file()}
    server = LoopbackHub()
    server.add_repo(
        "test-org/smollm2-hf",
        files,
        tags=["llama", "safetensors", "license:apache-2.0"],
        likes=5,
        parameters=134_515_008,
    )
    server.add_repo(
        "test-org/smollm2-gguf",
        {"smollm2.Q4_1.gguf": starter_path},
        tags=["llama", "gguf", "license:apache-2.0"],
        likes=9,
    )
    server.add_repo(
        "test-org/gated-gguf", {"smollm2.Q4_1.gguf": starter_path}, gated=True, tags=["gguf"]
    )
    server.add_repo("test-org/corrupt-gguf", {"smollm2.Q4_1.gguf": starter_path}, tags=["gguf"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hub_endpoint(hub_server: LoopbackHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackHub]:
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    hub_server.reset()
    yield hub_server
    hub_server.reset()


@pytest.fixture(scope="session")
def engine(starter_path: Path) -> Iterator[ChatEngine]:
    """One loaded starter model for the whole session (used from the main thread only)."""
    chat_engine = ChatEngine(starter_path, context_length=2048)
    chat_engine.load()
    yield chat_engine
    chat_engine.close()


@pytest.fixture(scope="session")
def count_reference(engine: ChatEngine) -> Reference:
    """The starter model's greedy answer to COUNT, and the part any machine reproduces."""
    return greedy_reference(engine, [{"role": "user", "content": COUNT}], greedy(64))


@pytest.fixture(scope="session")
def references(engine: ChatEngine) -> dict[str, Reference]:
    """Each of QUESTIONS' greedy answer (at most 32 tokens), asked alone, and the part of it any
    machine reproduces."""
    return {
        q: greedy_reference(engine, [{"role": "user", "content": q}], greedy(32)) for q in QUESTIONS
    }


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> NoNetwork:
    """The Hub's address cannot be looked up (HF_ENDPOINT points at a name that fails)."""
    import socket

    offline = NoNetwork()
    monkeypatch.setattr(socket, "getaddrinfo", offline.getaddrinfo)
    monkeypatch.setenv("HF_ENDPOINT", offline.endpoint)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return offline
