"""desktop/core and conversion must never import Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT_FREE = [ROOT / "desktop" / "core", ROOT / "conversion"]


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


def test_conversion_never_imports_desktop() -> None:
    offenders = [
        str(source.relative_to(ROOT))
        for source in (ROOT / "conversion").rglob("*.py")
        if any(name.split(".")[0] == "desktop" for name in _imported_modules(source))
    ]
    assert offenders == []


def test_data_generation_loads_no_torch() -> None:
    code = (
        "import sys, conversion.selfinstruct.cli, conversion.selfinstruct.gguf_teacher\n"
        "sys.exit(1 if {'torch', 'transformers', 'desktop'} & set(sys.modules) else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
