"""Where Huacaya keeps its files.

Everything lives under the platform's usual folders (platformdirs). ``HUACAYA_HOME`` overrides
all of them with one folder, which is what the tests use.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

APP_DIR_NAME = "Huacaya"
HOME_ENV = "HUACAYA_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """User data: conversations and the model library."""
    home = _home_override()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)))


def config_dir() -> Path:
    """Settings."""
    home = _home_override()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)))


def log_dir() -> Path:
    home = _home_override()
    if home is not None:
        return _ensure(home / "logs")
    return _ensure(Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False)))


def models_dir() -> Path:
    """Where downloaded and converted models are stored (one folder per model)."""
    return _ensure(data_dir() / "models")


def settings_file() -> Path:
    return config_dir() / "settings.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    A crash at any moment leaves either the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
