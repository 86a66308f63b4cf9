"""Typed application settings, saved as JSON with a schema version.

Reading is forgiving (a missing or damaged file gives defaults, and a damaged file is kept
aside rather than overwritten); writing is atomic.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from desktop.core import paths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclass
class GenerationSettings:
    """Sampling parameters for one answer."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 1024
    seed: int = -1  # -1: a new random seed for every answer

    def validated(self) -> GenerationSettings:
        """A copy with every value clamped into its meaningful range."""
        return GenerationSettings(
            temperature=min(max(float(self.temperature), 0.0), 5.0),
            top_p=min(max(float(self.top_p), 0.0), 1.0),
            top_k=max(int(self.top_k), 0),
            min_p=min(max(float(self.min_p), 0.0), 1.0),
            repeat_penalty=min(max(float(self.repeat_penalty), 0.0), 5.0),
            max_tokens=max(int(self.max_tokens), 1),
            seed=int(self.seed),
        )


@dataclass
class Settings:
    """App-wide settings."""

    context_length: int = 4096
    threads: int = 0  # 0: one per physical core
    gpu_layers: int = -1  # -1: automatic (all layers on Apple silicon, none elsewhere)
    default_model: str = ""  # library id; empty: the starter model
    theme: str = "system"
    font_size: int = 0  # 0: the system's
    offline: bool = True  # no network at all until the user searches or downloads
    models_folder: str = ""  # empty: the default one in the user data folder
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    # per model id: generation settings that new chats with that model start from
    model_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # window state, restored at start
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    splitter_state: str = ""
    last_conversation: int = 0
    schema_version: int = SCHEMA_VERSION


def _coerce(dataclass_type: type, raw: Any) -> Any:
    """Build ``dataclass_type`` from ``raw``, keeping defaults for missing or ill-typed keys."""
    instance = dataclass_type()
    if not isinstance(raw, dict):
        return instance
    for item in fields(dataclass_type):
        if item.name not in raw:
            continue
        default = getattr(instance, item.name)
        value = raw[item.name]
        if hasattr(default, "__dataclass_fields__"):
            setattr(instance, item.name, _coerce(type(default), value))
        elif isinstance(default, dict):
            if isinstance(value, dict):
                setattr(instance, item.name, value)
        elif isinstance(default, bool) or isinstance(value, bool):
            if isinstance(value, bool) and isinstance(default, bool):
                setattr(instance, item.name, value)
        elif isinstance(default, (int, float)) and isinstance(value, (int, float)):
            setattr(instance, item.name, type(default)(value))
        elif isinstance(default, str) and isinstance(value, str):
            setattr(instance, item.name, value)
        else:
            log.warning("settings: ignoring %s=%r (expected %s)", item.name, value, type(default))
    return instance


def load(path: Path | None = None) -> Settings:
    path = path or paths.settings_file()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        log.warning("settings file %s is unreadable (%s); kept as %s", path, exc, backup.name)
        try:
            path.replace(backup)
        except OSError:
            log.warning("could not move the damaged settings file aside")
        return Settings()
    settings = _coerce(Settings, raw)
    settings.generation = settings.generation.validated()
    settings.schema_version = SCHEMA_VERSION
    return settings


def save(settings: Settings, path: Path | None = None) -> None:
    path = path or paths.settings_file()
    text = json.dumps(asdict(settings), indent=2, sort_keys=True)
    paths.atomic_write_text(path, text + "\n")
