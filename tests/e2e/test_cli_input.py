"""What a terminal can hand the commands: bytes that are not UTF-8 in arguments or piped lines,
a named pipe where a model or seed file belongs. One clear line each, never a traceback or a
wait that Ctrl+C cannot end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import greedy_by_default

ROOT = Path(__file__).resolve().parents[2]
NOT_UTF8 = b"caf\xe9 \xff"


def run(
    args: list[str | bytes], home: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env["HUACAYA_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", *args],  # type: ignore[list-item]
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


@pytest.mark.parametrize(
    "args",
    [
        ["chat", NOT_UTF8],
        ["chat", "--system", NOT_UTF8, "Hi"],
        ["chat", "--docs", NOT_UTF8, "Hi"],
        ["docs", "search", NOT_UTF8, "query"],
        ["docs", "search", "notes", NOT_UTF8],
        ["docs", "add", NOT_UTF8, "."],
        ["models", "rename", "m", NOT_UTF8],
    ],
    ids=["question", "system", "docs", "collection", "query", "new collection", "new name"],
)
def test_arguments_that_are_not_utf8_are_one_line(args: list[str | bytes], huacaya_home: Path):  # type: ignore[no-untyped-def]
    done = run(["desktop", *args], huacaya_home)
    assert done.returncode == 2, done.stderr
    assert "is not valid UTF-8 text" in done.stderr and "Traceback" not in done.stderr


def test_a_piped_line_that_is_not_utf8_is_one_line(huacaya_home: Path) -> None:
    greedy_by_default(huacaya_home, max_tokens=4)
    done = run(["desktop", "chat", "--no-save"], huacaya_home, stdin=NOT_UTF8 + b"\n")
    assert done.returncode == 1
    assert "not valid text" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_given_as_model_or_seed_file_is_refused_at_once(
    huacaya_home: Path, tmp_path: Path
) -> None:
    pipe = tmp_path / "model.gguf"
    os.mkfifo(pipe)
    started = time.monotonic()
    done = run(["desktop", "chat", "--model", str(pipe), "Hi"], huacaya_home)
    assert done.returncode == 1 and "named pipe" in done.stderr, done.stderr
    seeds = tmp_path / "seeds.jsonl"
    os.mkfifo(seeds)
    done = run(
        [
            "desktop.cli.generate",
            "--seed-tasks",
            str(seeds),
            "--out",
            str(tmp_path / "out.json"),
            "--teacher",
            "openai:gpt-4o-mini",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ],
        huacaya_home,
    )
    assert done.returncode == 1 and "named pipe" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
