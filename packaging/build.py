"""Build the Huacaya app for this OS, smoke-test it, and package it.

    python packaging/build.py [--dist DIR] [--no-archive] [--check]

0. the Qt binding: refused when it loses references (PySide6 6.12 on Python < 3.12 aborts the
   app, issue 29) or when pyproject.toml does not allow it on this Python (``--check`` stops
   here);
1. icons from resources/huacaya.svg (packaging/icons.py);
2. PyInstaller with packaging/huacaya.spec (onedir, windowed, llama.cpp, the starter model);
3. smoke test: the bundle's own ``--self-test`` (the bundled Qt binding probed again, window
   offscreen, model, a few tokens), with the cold start to window shown;
4. the bundle size against its budget;
5. the installer for this OS: Linux — a tarball with a .desktop entry and icon, plus an
   AppImage where ``appimagetool`` is on PATH; macOS — a .dmg, signed and notarized when
   HUACAYA_CODESIGN_IDENTITY / HUACAYA_NOTARY_PROFILE are set; Windows — an Inno Setup
   installer where ``iscc`` is on PATH.

Release builds of llama-cpp-python should be compiled with CMAKE_ARGS="-DGGML_NATIVE=OFF" (and
-DGGML_METAL=on on Apple silicon) so the app runs on other CPUs; the CI workflow does that.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "packaging")]

import icons  # noqa: E402  (packaging/icons.py)

from desktop import APP_ID, APP_NAME, __version__  # noqa: E402

# 350 + the keychain (cryptography) + documents (pdfium, lxml) + the local API (pydantic-core)
BUNDLE_BUDGET_MB = 400
COLD_START_BUDGET_S = 2.0


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def, type-arg]
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def bundle_paths(dist: Path) -> tuple[Path, Path]:
    """(what to measure and ship, the executable inside it)."""
    if sys.platform == "darwin":
        app = dist / f"{APP_NAME}.app"
        return app, app / "Contents" / "MacOS" / APP_NAME
    folder = dist / APP_NAME
    exe = folder / ("huacaya-cli.exe" if sys.platform == "win32" else "huacaya")
    return folder, exe


def binding_requirements(root: Path = ROOT) -> list[str]:
    """The PySide6-Essentials requirements of pyproject.toml (with their Python markers)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: what pip installed from pyproject.toml
        lines = metadata.requires("huacaya") or []
    else:
        with open(root / "pyproject.toml", "rb") as file:
            lines = tomllib.load(file)["project"]["dependencies"]
    return [line for line in lines if re.match(r"(?i)pyside6[-_]essentials\b", line)]


def pin_problem(root: Path = ROOT, installed: str | None = None) -> str | None:
    """Why the installed Qt binding is not one pyproject.toml allows on this Python, or None."""
    from packaging.requirements import Requirement  # a dependency of PyInstaller

    version = installed or metadata.version("PySide6-Essentials")
    python = ".".join(map(str, sys.version_info[:2]))
    for line in binding_requirements(root):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            return (
                f"PySide6-Essentials {version} is installed, but pyproject.toml asks for "
                f"{requirement.specifier} on Python {python}. Install what it asks for: "
                f'{sys.executable} -m pip install "PySide6-Essentials{requirement.specifier}"'
            )
    return None


def check_binding() -> None:
    """Refuse to bundle a Qt binding that would abort the app (issue 29)."""
    step("Qt binding")
    from desktop.ui.binding_check import probe_binding

    report = probe_binding()
    print(report.describe())
    problem = report.problem() or pin_problem()
    if problem:
        raise SystemExit(f"refusing to build: {problem}")


def build(dist: Path, work: Path) -> Path:
    step("icons")
    icon_dir = icons.make_icons(work / "icons")
    step("PyInstaller")
    env = {**os.environ, "HUACAYA_ICON_DIR": str(icon_dir)}
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work / "pyinstaller"),
            str(ROOT / "packaging" / "huacaya.spec"),
        ],
        env=env,
    )
    return icon_dir


def smoke_test(executable: Path) -> float:
    """Run the bundle's self-test; returns the cold start to window shown, in seconds."""
    step(f"smoke test: {executable} --self-test")
    with tempfile.TemporaryDirectory(prefix="huacaya-smoke-") as home:
        env = {**os.environ, "HUACAYA_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
        result = subprocess.run(
            [str(executable), "--self-test"], env=env, capture_output=True, text=True, timeout=300
        )
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        raise SystemExit(f"smoke test failed (exit {result.returncode})")
    if "Traceback" in result.stderr:
        raise SystemExit("smoke test printed a traceback")
    if "self-test: Qt binding:" not in result.stdout:
        raise SystemExit("smoke test did not check the bundled Qt binding")
    match = re.search(r"window shown ([\d.]+) s", result.stdout)
    return float(match[1]) if match else float("nan")


def package_linux(bundle: Path, icon_dir: Path, dist: Path) -> list[Path]:
    machine = platform.machine()
    stem = f"{APP_NAME}-{__version__}-linux-{machine}"
    staging = dist / "linux-staging"
    shutil.rmtree(staging, ignore_errors=True)
    top = staging / stem
    shutil.copytree(bundle, top / APP_NAME, symlinks=True)
    shutil.copy(icon_dir / "huacaya-256.png", top / "huacaya.png")
    shutil.copy(ROOT / "packaging" / "linux" / "huacaya.desktop", top / f"{APP_ID}.desktop")
    shutil.copy(ROOT / "packaging" / "linux" / "install.sh", top / "install.sh")
    (top / "install.sh").chmod(0o755)
    tarball = dist / f"{stem}.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(top, arcname=stem)
    outputs = [tarball]
    appimagetool = shutil.which("appimagetool")
    if appimagetool:
        appdir = staging / f"{APP_NAME}.AppDir"
        shutil.copytree(bundle, appdir / "usr" / "lib" / APP_NAME, symlinks=True)
        shutil.copy(icon_dir / "huacaya-256.png", appdir / "huacaya.png")
        desktop = (ROOT / "packaging" / "linux" / "huacaya.desktop").read_text()
        (appdir / f"{APP_ID}.desktop").write_text(desktop.replace("Exec=huacaya", "Exec=AppRun"))
        apprun = appdir / "AppRun"
        apprun.write_text(
            '#!/bin/sh\nHERE="$(dirname "$(readlink -f "$0")")"\n'
            f'exec "$HERE/usr/lib/{APP_NAME}/huacaya" "$@"\n'
        )
        apprun.chmod(0o755)
        image = dist / f"{stem}.AppImage"
        run([appimagetool, str(appdir), str(image)], env={**os.environ, "ARCH": machine})
        outputs.append(image)
    else:
        print("appimagetool is not on PATH: no AppImage this time (the tarball is complete)")
    shutil.rmtree(staging)
    return outputs


def package_macos(bundle: Path, dist: Path) -> list[Path]:
    identity = os.environ.get("HUACAYA_CODESIGN_IDENTITY")
    if identity:
        entitlements = ROOT / "packaging" / "macos" / "entitlements.plist"
        run(
            [
                "codesign",
                "--deep",
                "--force",
                "--options",
                "runtime",
                "--timestamp",
                "--entitlements",
                str(entitlements),
                "--sign",
                identity,
                str(bundle),
            ]
        )
    dmg = dist / f"{APP_NAME}-{__version__}-macos-{platform.machine()}.dmg"
    dmg.unlink(missing_ok=True)
    run(
        [
            "hdiutil",
            "create",
            "-volname",
            APP_NAME,
            "-srcfolder",
            str(bundle),
            "-ov",
            "-format",
            "UDZO",
            str(dmg),
        ]
    )
    profile = os.environ.get("HUACAYA_NOTARY_PROFILE")
    if identity:
        run(["codesign", "--force", "--sign", identity, str(dmg)])
    if identity and profile:
        run(["xcrun", "notarytool", "submit", str(dmg), "--keychain-profile", profile, "--wait"])
        run(["xcrun", "stapler", "staple", str(dmg)])
    elif not identity:
        print("HUACAYA_CODESIGN_IDENTITY is not set: the .dmg is unsigned")
    return [dmg]


def package_windows(bundle: Path, icon_dir: Path, dist: Path) -> list[Path]:
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    if not iscc:
        print("Inno Setup (iscc) is not on PATH: no installer this time")
        return []
    script = ROOT / "packaging" / "windows" / "huacaya.iss"
    run(
        [
            iscc,
            f"/DAppVersion={__version__}",
            f"/DSourceDir={bundle}",
            f"/DIconFile={icon_dir / 'huacaya.ico'}",
            f"/DOutputDir={dist}",
            str(script),
        ]
    )
    return sorted(dist.glob(f"{APP_NAME}-{__version__}-windows-setup*.exe"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build")
    parser.add_argument("--no-archive", action="store_true", help="skip the installer step")
    parser.add_argument(
        "--check", action="store_true", help="only check the Qt binding this build would bundle"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    check_binding()
    if args.check:
        return 0
    icon_dir = build(args.dist, args.work)
    bundle, executable = bundle_paths(args.dist)
    cold_start = smoke_test(executable)

    size_mb = folder_size(bundle) / 1e6
    step("budgets")
    size_ok = size_mb <= BUNDLE_BUDGET_MB
    start_ok = cold_start <= COLD_START_BUDGET_S
    print(
        f"bundle size: {size_mb:,.1f} MB (budget {BUNDLE_BUDGET_MB} MB): "
        f"{'ok' if size_ok else 'OVER BUDGET'}"
    )
    print(
        f"cold start to window shown: {cold_start:.2f} s (budget {COLD_START_BUDGET_S} s): "
        f"{'ok' if start_ok else 'OVER BUDGET'}"
    )

    outputs: list[Path] = []
    if not args.no_archive:
        step("installer")
        if sys.platform.startswith("linux"):
            outputs = package_linux(bundle, icon_dir, args.dist)
        elif sys.platform == "darwin":
            outputs = package_macos(bundle, args.dist)
        elif sys.platform == "win32":
            outputs = package_windows(bundle, icon_dir, args.dist)
    step(f"done in {time.perf_counter() - started:.0f} s")
    print(f"bundle: {bundle}")
    for output in outputs:
        print(f"artifact: {output} ({output.stat().st_size / 1e6:,.1f} MB)")
    return 0 if size_ok else 1


if __name__ == "__main__":
    sys.exit(main())
