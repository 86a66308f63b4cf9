"""Where Huacaya keeps its files.

Everything lives under the platform's usual folders (platformdirs). ``HUACAYA_HOME`` overrides
all of them with one folder (a portable install, a throw-away trial; the tests give each test
its own). ``HUACAYA_CACHE`` puts the cache, what Huacaya can always work out again, elsewhere
(another disk, or one cache shared by several homes).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_DIR_NAME = "Huacaya"
HOME_ENV = "HUACAYA_HOME"
CACHE_ENV = "HUACAYA_CACHE"


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


def cache_dir() -> Path:
    """What can be worked out again (whether each model file opens safely): nothing here needs
    a backup, and deleting it costs only time. ``HUACAYA_CACHE`` if set, else ``cache`` in
    ``HUACAYA_HOME``, else the platform's cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return _ensure(Path(override).expanduser())
    home = _home_override()
    if home is not None:
        return _ensure(home / "cache")
    return _ensure(Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)))


def models_dir() -> Path:
    """Where downloaded and converted models are stored (one folder per model)."""
    return _ensure(data_dir() / "models")


def settings_file() -> Path:
    return config_dir() / "settings.json"
