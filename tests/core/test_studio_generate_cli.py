"""``huacaya-generate-data --from-documents COLLECTION`` and ``--score``: the installed command
on the Data step's functions (a collection built by the real indexer, the loopback teacher)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.selfinstruct.seeds import load_seed_tasks
from desktop.cli import generate as cli_generate
from desktop.core.evaluation.published import BASE_URL_ENV, STANFORD_SEED_TASKS, cache_folder
from desktop.core.settings import SettingsStore
from tests.core.test_studio_grounded import collection, loopback, passages  # noqa: F401
from tests.documents.conftest import corpus, minilm  # noqa: F401  (fixtures)
from tests.evaluation.conftest import ALPACA
from tests.evaluation.raw_server import LoopbackRaw
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds


def test_from_documents_with_scores(
    collection: str,  # noqa: F811
    loopback: LoopbackTeacher,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "grounded.json"
    argv = [
        "--from-documents", collection, "--teacher", "openai:loopback", "--base-url",
        loopback.url, "--num", "3", "--out", str(out), "--score",
    ]  # fmt: skip
    assert cli_generate.main(argv) == 0, capsys.readouterr().err
    rows = json.loads(out.read_text(encoding="utf-8"))
    known = passages(collection)
    assert len(rows) == 3
    for row in rows:
        assert row["source"] in known and row["instruction"] and row["output"]
        assert isinstance(row["score"], float) and row["score"] < 0  # log-probabilities
    said = capsys.readouterr().out
    assert "Wrote 3 records grounded in “farm”" in said and "log-probabilities" in said
    # An existing output is not replaced without --force.
    assert cli_generate.main(argv) == 1
    assert "--force" in capsys.readouterr().err
    assert json.loads(out.read_text(encoding="utf-8")) == rows


def test_from_an_unknown_collection(
    loopback: LoopbackTeacher,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "--from-documents", "nothing", "--teacher", "openai:loopback", "--base-url",
        loopback.url, "--out", str(tmp_path / "x.json"),
    ]  # fmt: skip
    assert cli_generate.main(argv) == 1
    err = capsys.readouterr().err
    assert "no document collection named “nothing”" in err and "docs add" in err


def test_seed_tasks_with_scores_from_a_judge(
    loopback: LoopbackTeacher,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loopback.knobs.logprobs = False
    out = tmp_path / "data.json"
    seeds = write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS)
    argv = [
        "--seed-tasks", str(seeds), "--teacher", "openai:loopback", "--base-url",
        loopback.url, "--num", "5", "--out", str(out), "--score",
    ]  # fmt: skip
    assert cli_generate.main(argv) == 0, capsys.readouterr().err
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 5
    assert all(isinstance(r["score"], float) and 1 <= r["score"] <= 10 for r in rows)
    assert "judge" in capsys.readouterr().out


def test_stanford_seed_tasks_are_downloaded_once_and_refused_offline(
    loopback: LoopbackTeacher,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeds = ALPACA / "seed_tasks.jsonl"
    if not seeds.is_file():
        pytest.skip("../shared/alpaca/seed_tasks.jsonl is not beside this checkout")
    monkeypatch.setenv("HUACAYA_CACHE", str(tmp_path / "cache"))
    file = STANFORD_SEED_TASKS
    settings = SettingsStore()
    settings.update(offline=False)  # Offline mode (the default) would refuse: checked below
    argv = [
        "--seed-tasks", "stanford", "--teacher", "openai:loopback", "--base-url",
        loopback.url, "--num", "3", "--out", str(tmp_path / "data.json"),
    ]  # fmt: skip
    with LoopbackRaw({f"{file.repository}/{file.commit}/{file.path}": seeds}) as raw:
        monkeypatch.setenv(BASE_URL_ENV, raw.url)
        assert cli_generate.main(argv) == 0, capsys.readouterr().err
        assert len(json.loads((tmp_path / "data.json").read_text(encoding="utf-8"))) == 3
        assert raw.requests == [f"{file.repository}/{file.commit}/{file.path}"]
        # the run's settings name the downloaded copy's tasks: all 175 of Stanford's
        assert len(load_seed_tasks(cache_folder(file) / file.file_name)) == 175
        settings.update(offline=True)
        assert cli_generate.main([*argv[:-1], str(tmp_path / "other.json")]) == 1
        assert "Offline mode is on" in capsys.readouterr().err
        assert len(raw.requests) == 1
