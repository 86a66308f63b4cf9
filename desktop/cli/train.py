"""The installed ``huacaya-train`` command: ``conversion.train.cli`` with the app's model library
(``--base NAME`` takes an installed model, as ``huacaya chat --model`` does; ``--export-gguf
--name NAME`` is refused before training when an installed model has that name) and its cache
folder (where a GGUF base's checkpoint is made once and reused).

It lives in ``desktop`` because ``conversion`` may not import the app; the command itself is
``conversion.train.cli``. Under torchrun: ``torchrun -m desktop.cli.train …``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from conversion.train import cli
from desktop.core import paths
from desktop.core import settings as settings_store
from desktop.core.models.library import ModelLibrary, library_for, resolve_model


def _library() -> ModelLibrary:
    return library_for(settings_store.load().models_folder)


def _resolve(name: str) -> Path:
    return resolve_model(name, _library())


def _installed() -> list[str]:
    """The names in the library: ``--export-gguf --name`` refuses one of them before training."""
    return [entry.name for entry in _library().entries()]


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(
        argv,
        resolve_model=_resolve,
        gguf_cache=paths.base_checkpoints_dir(),
        installed=_installed,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
