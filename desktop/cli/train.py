"""The installed ``huacaya-train`` command: ``conversion.train.cli`` with the app's model library
(``--base NAME`` takes an installed model, as ``huacaya chat --model`` does) and its cache folder
(where a GGUF base's checkpoint is made once and reused).

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
from desktop.core.models.library import library_for, resolve_model


def _resolve(name: str) -> Path:
    settings = settings_store.load()
    return resolve_model(name, library_for(settings.models_folder))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, resolve_model=_resolve, gguf_cache=paths.base_checkpoints_dir())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
