"""The installed ``huacaya-generate-data`` command: ``conversion.selfinstruct.cli`` with the
app's model library (``gguf:NAME`` finds an installed model) and keychain (API keys).

It lives in ``desktop`` because ``conversion`` may not import the app; everything else is in
``conversion.selfinstruct``, which on its own takes model files and keys from the environment.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from conversion.selfinstruct import cli
from desktop.core import secrets
from desktop.core import settings as settings_store
from desktop.core.models.library import library_for, resolve_model


def _resolve(name: str) -> Path:
    settings = settings_store.load()
    return resolve_model(name, library_for(settings.models_folder))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, resolve_model=_resolve, keys=secrets.ApiKeys())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
