"""packaging/build.py loaded as a module: it is a script, in a folder that is not a package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "build.py"


def _load() -> ModuleType:
    saved = list(sys.path)  # the script puts the repository and packaging/ in front
    spec = importlib.util.spec_from_file_location("huacaya_build_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


build = _load()
