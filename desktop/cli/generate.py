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
from desktop.core.models.teachers import teacher_advice


def _resolve(name: str) -> Path:
    """The teacher's file; a teacher too small to write useful data is said so, with a better
    one (``teachers.teacher_advice``), before the run starts."""
    settings = settings_store.load()
    library = library_for(settings.models_folder)
    path = resolve_model(name, library)
    advice = teacher_advice(path, library, settings.offline) if path.is_file() else ""
    if advice:
        print(f"huacaya-generate-data: note: {advice}\n", file=sys.stderr, flush=True)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, resolve_model=_resolve, keys=secrets.ApiKeys())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
