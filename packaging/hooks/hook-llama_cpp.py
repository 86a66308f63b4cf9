"""PyInstaller hook for llama-cpp-python, which PyInstaller has none for.

llama_cpp loads its shared libraries with ctypes from ``llama_cpp/lib`` next to its modules,
so they are collected into that same folder of the bundle. A wheel built from source holds each
Linux library three times (``libx.so``, ``libx.so.0``, ``libx.so.0.y.z``); only the name the
loader opens (``libllama.so``) and the sonames the libraries link against are kept. The
multimodal helper (libmtmd) is left out: the app does not use it. On macOS the Metal shader
library travels too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PyInstaller.utils.hooks import get_package_paths

_, package_dir = get_package_paths("llama_cpp")
lib_dir = Path(package_dir) / "lib"
DEST = "llama_cpp/lib"


def wanted(path: Path) -> bool:
    name = path.name
    if name.startswith("libmtmd") or name.startswith("mtmd"):
        return False
    if sys.platform.startswith("linux"):
        return name == "libllama.so" or re.fullmatch(r"lib[\w-]+\.so\.\d+", name) is not None
    if sys.platform == "darwin":
        return path.suffix in {".dylib", ".metal", ".metallib"}
    return path.suffix == ".dll"


binaries = [(str(p), DEST) for p in sorted(lib_dir.iterdir()) if p.is_file() and wanted(p)]
datas = [(str(p), DEST) for p in sorted(lib_dir.iterdir()) if p.suffix in {".metal", ".metallib"}]
binaries = [b for b in binaries if not b[0].endswith((".metal", ".metallib"))]
hiddenimports = ["llama_cpp.llama_chat_format", "llama_cpp.llama_grammar"]
