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


def test_benchmarks_do_not_import_the_test_suite() -> None:
    """What the benchmarks and the tests share lives in ``benchmarks/`` (or the package): a
    benchmark runs from a checkout without the tests' fixtures and conftest files."""
    offenders = [
        f"{source.relative_to(ROOT)} imports {name}"
        for source in (ROOT / "benchmarks").rglob("*.py")
        for name in sorted(_imported_modules(source))
        if name.split(".")[0] == "tests"
    ]
    assert offenders == []


# Import cycles still being removed, each a set of modules; no other cycle may appear.
KNOWN_CYCLES: list[set[str]] = []
PROJECT_PACKAGES = ("desktop", "conversion", "benchmarks")


def _modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for source in (root / package).rglob("*.py"):
            parts = source.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = source
    return found


def _imports_of(name: str, source: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules ``name`` imports anywhere in it: at the top, in a function, under
    ``TYPE_CHECKING``. ``from a.b import c`` imports the module ``a.b.c`` if there is one, else
    ``a.b``; and importing ``a.b.c`` from outside the package ``a.b`` runs ``a/b/__init__.py``
    (and ``a/__init__.py``) first, so it imports those too."""
    package = name if source.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            named.update(f"{base}.{alias.name}" for alias in node.names)
            named.add(base)
    imported = set()
    for target in named:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if not target or target == name:
            continue
        imported.add(target)
        parts = target.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent in modules and not (name == parent or name.startswith(parent + ".")):
                imported.add(parent)
    return imported


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or around a circle (Tarjan's
    strongly connected components, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(group)
    return found


def _import_cycles(root: Path, packages: tuple[str, ...]) -> list[set[str]]:
    modules = _modules(root, packages)
    graph = {name: _imports_of(name, source, modules) for name, source in modules.items()}
    return _cycles(graph)


def test_no_import_cycles_among_the_projects_modules() -> None:
    """A cycle makes import order matter (a lazy import in a function hides it only until
    someone moves it) and means neither module can be understood without the other; a
    ``TYPE_CHECKING`` import counts too."""
    cycles = _import_cycles(ROOT, PROJECT_PACKAGES)
    new = [sorted(cycle) for cycle in cycles if cycle not in KNOWN_CYCLES]
    gone = [sorted(cycle) for cycle in KNOWN_CYCLES if cycle not in cycles]
    assert new == [], "modules that import each other"
    assert gone == [], "no longer a cycle: remove it from KNOWN_CYCLES"


def test_the_cycle_check_sees_lazy_type_only_and_package_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg import b\n",  # inside a function
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
        "c.py": "from pkg.sub.d import g\n",  # runs pkg/sub/__init__.py, which imports c
        "sub/__init__.py": "from .. import c\n",
        "sub/d.py": "g = 1\n",
        "e.py": "from pkg.sub import d\n",  # a submodule, not the package: no cycle with sub
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    cycles = _import_cycles(tmp_path, ("pkg",))
    assert sorted(sorted(cycle) for cycle in cycles) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub"]]


WINDOW = "desktop.ui.main_window"
WINDOW_IMPORTERS = {"desktop.ui.app"}  # the app's entry creates the window


def _window_importers(root: Path) -> set[str]:
    modules = _modules(root, ("desktop",))
    return {
        name
        for name, source in modules.items()
        if name.startswith("desktop.ui.") and WINDOW in _imports_of(name, source, modules)
    }


def test_no_ui_module_but_the_apps_entry_imports_the_window() -> None:
    """The window's parts are given what they use; none reaches back into the window, not even
    for a type (that is how a hub grows: a part that holds the window can touch all of it)."""
    assert _window_importers(ROOT) <= WINDOW_IMPORTERS


def test_the_window_check_sees_a_part_that_holds_the_window(tmp_path: Path) -> None:
    ui = tmp_path / "desktop" / "ui"
    (ui / "documents").mkdir(parents=True)
    for package in (tmp_path / "desktop", ui, ui / "documents"):
        (package / "__init__.py").write_text("", encoding="utf-8")
    (ui / "main_window.py").write_text("from desktop.ui.documents import feature\n")
    (ui / "app.py").write_text("def run():\n    from desktop.ui.main_window import MainWindow\n")
    ways = {
        "typed": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from desktop.ui.main_window import MainWindow\n",
        "relative": "from ..main_window import MainWindow\n",
        "lazy": "def later():\n    from desktop.ui import main_window\n",
        "plain": "import desktop.ui.main_window\n",
    }
    for way, text in ways.items():
        (ui / "documents" / f"{way}.py").write_text(text, encoding="utf-8")
    found = _window_importers(tmp_path)
    assert found - WINDOW_IMPORTERS == {f"desktop.ui.documents.{way}" for way in ways}
