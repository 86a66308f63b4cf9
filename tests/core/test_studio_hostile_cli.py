"""``huacaya-generate-data`` (the Data step's command) against bad input from the terminal: a
server URL that is no URL, an --out that is a folder or cannot be written, two ways of making
records at once. Each is one line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import DataGenerationError
from conversion.selfinstruct.openai_teacher import check_base_url
from desktop.cli import generate as cli_generate
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds


def _said(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert cli_generate.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().startswith("huacaya-generate-data: error:")
    return err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:abc/v1", "http://[::1", "http://127.0.0.1\x00/v1", "ftp://x/v1"]
)
def test_a_server_url_that_is_no_url_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    seeds = write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS)
    out = str(tmp_path / "out.json")
    common = ["--teacher", "openai:m", "--base-url", url, "--out", out, "--num", "2"]
    err = _said(capsys, ["--seed-tasks", str(seeds), *common])
    assert "is not a server's URL" in err and "http://localhost:8080/v1" in err
    err = _said(capsys, ["--from-documents", "notes", *common])
    assert "is not a server's URL" in err
    assert not Path(out).exists()
    with pytest.raises(DataGenerationError, match="is not a server's URL"):
        check_base_url(url)


def test_an_output_that_is_a_folder_or_cannot_be_written_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS)
    server = LoopbackTeacher().start()
    try:
        teacher = ["--teacher", "openai:m", "--base-url", server.url, "--num", "2"]
        folder = tmp_path / "a folder"
        folder.mkdir()
        for how in (["--seed-tasks", str(seeds)], ["--from-documents", "notes"]):
            err = _said(capsys, [*how, *teacher, "--out", str(folder), "--force"])
            assert f"“{folder}” is a folder" in err
        assert list(folder.iterdir()) == []
        # The journal's temporary file cannot be made (as on a full or read-only disk).
        (tmp_path / ".out.json.journal.jsonl.tmp").mkdir()
        err = _said(
            capsys, ["--seed-tasks", str(seeds), *teacher, "--out", str(tmp_path / "out.json")]
        )
        assert "cannot write" in err and "free space" in err
        assert server.requests == []  # refused before the teacher was asked
    finally:
        server.stop()


def test_two_ways_of_making_records_are_refused_before_any_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _said(
        capsys,
        [
            "--from-documents", "notes", "--seed-tasks", "stanford", "--teacher", "openai:m",
            "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "o.json"),
        ],
    )  # fmt: skip
    assert "--from-documents and --seed-tasks are two ways" in err
