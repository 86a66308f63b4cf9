"""desktop/core, desktop/server and conversion must never import Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT_FREE = [ROOT / "desktop" / "core", ROOT / "desktop" / "server", ROOT / "conversion"]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_qt_import_in_core_or_conversion_sources() -> None:
    offenders = []
    for folder in QT_FREE:
        for source in folder.rglob("*.py"):
            if any(
                name.split(".")[0] in {"PySide6", "shiboken6"} for name in _imported_modules(source)
            ):
                offenders.append(str(source.relative_to(ROOT)))
    assert offenders == []


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for folder in QT_FREE
        for path in folder.rglob("*.py")
        if path.name != "__init__.py" and "train" not in path.parts
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6')))\n"
        "print(leaked)\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_itself_catches_a_qt_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from PySide6.QtCore import QObject\n", encoding="utf-8")
    assert "PySide6.QtCore" in _imported_modules(sample)


TRAINING_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "deepspeed")


def test_training_libraries_and_the_app_stay_out_of_the_converter_and_core() -> None:
    """The app installs and runs without the train extra: only conversion/train imports torch &
    co. at module level, and conversion never imports desktop."""
    offenders = []
    for folder in QT_FREE:
        for source in folder.rglob("*.py"):
            tree = ast.parse(source.read_text(encoding="utf-8"))
            top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            names = {
                alias.name if isinstance(node, ast.Import) else (node.module or "")
                for node in top_level
                for alias in node.names
            }
            roots = {name.split(".")[0] for name in names}
            in_train = "train" in source.relative_to(ROOT).parts
            if not in_train and roots & set(TRAINING_LIBRARIES):
                offenders.append(
                    f"{source.relative_to(ROOT)} imports {roots & set(TRAINING_LIBRARIES)}"
                )
            if folder.name == "conversion" and "desktop" in {
                n.split(".")[0] for n in _imported_modules(source)
            }:
                offenders.append(f"{source.relative_to(ROOT)} imports desktop")
    assert offenders == []


def test_importing_the_app_core_and_converter_loads_no_training_library() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for folder in QT_FREE
        for path in folder.rglob("*.py")
        if path.name != "__init__.py" and "train" not in path.parts
    ]
    modules += ["conversion.train.data", "conversion.train.recipe", "conversion.train.cli"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {TRAINING_LIBRARIES!r})\n"
        "print(leaked[:5])\n"
        "sys.exit(1 if leaked else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _pass_through(source: Path) -> str:
    """Why ``source`` is a pass-through module (re-exporting another's names), or ""."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    body = [
        n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
    ]
    for node in body:
        if isinstance(node, ast.ImportFrom) and any(
            alias.asname is not None and alias.asname == alias.name for alias in node.names
        ):
            return "re-exports with `import X as X`"
    imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [
        n
        for n in body
        if n not in imports
        and not (
            isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
        )
    ]
    if imports and not rest and source.name != "__init__.py":
        return "holds nothing but imports"
    return ""


def test_no_module_only_passes_another_modules_names_on() -> None:
    """Each shared root (errors, progress, atomic files, processes, llama.cpp's log) has one owner
    that everyone imports directly: no shims that re-export it elsewhere."""
    offenders = [
        f"{source.relative_to(ROOT)}: {why}"
        for folder in (ROOT / "desktop", ROOT / "conversion")
        for source in folder.rglob("*.py")
        if (why := _pass_through(source))
    ]
    assert offenders == []


def test_the_pass_through_check_catches_a_shim(tmp_path: Path) -> None:
    shim = tmp_path / "progress.py"
    shim.write_text(
        '"""Shim."""\nfrom conversion.progress import CancelToken\n\n__all__ = ["CancelToken"]\n'
    )
    assert _pass_through(shim) == "holds nothing but imports"
    shim.write_text("from conversion.output import atomic_write_text as atomic_write_text\nX = 1\n")
    assert _pass_through(shim) == "re-exports with `import X as X`"
