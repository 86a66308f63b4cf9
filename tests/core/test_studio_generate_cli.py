"""``huacaya-generate-data --from-documents COLLECTION`` and ``--score``: the installed command
on the Data step's functions (a collection built by the real indexer, the loopback teacher)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import generate as cli_generate
from tests.core.test_studio_grounded import collection, loopback, passages  # noqa: F401
from tests.documents.conftest import corpus, minilm  # noqa: F401  (fixtures)
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
