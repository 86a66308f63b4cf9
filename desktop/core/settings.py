"""Typed application settings, saved as JSON with a schema version, and their one owner.

Reading is forgiving (a missing or damaged file gives defaults, and a damaged file is kept
aside rather than overwritten); writing is atomic. In a process, one :class:`SettingsStore`
owns the settings: everything reads ``store.settings`` and changes go through
``store.update(...)``, which saves and tells the subscribers. A save writes only the keys this
process changed over what is on disk, so a window and a terminal command running at the same
time do not undo each other's changes. A file from a newer Huacaya (a higher
``schema_version``) is read as far as it is understood and never written over.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from conversion.errors import SettingsError
from conversion.output import atomic_write_text
from desktop.core import paths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# schema_version N → N+1: a function that changes the raw dict in place (none needed yet).
MIGRATIONS: dict[int, Callable[[dict[str, Any]], None]] = {}


@dataclass(frozen=True)
class SamplingOption:
    """One sampling setting's limits and how a person sets it: the range every front end keeps
    to (the settings dialog's spin box, the chat export's schema, the local API's request
    bodies, ``GenerationSettings.validated``), the dialog's step and decimals, its label and
    its help."""

    low: float
    high: float
    label: str
    help: str
    step: float = 1
    decimals: int = 0  # 0: whole numbers
    at_low: str = ""  # what the lowest value means, shown in its place ("off", "random")

    @property
    def whole(self) -> bool:
        return self.decimals == 0

    @property
    def bounds(self) -> str:
        """The range in words: "a number from 0 to 2", "a whole number from 1 to 131,072"."""
        if self.whole:
            return f"a whole number from {int(self.low):,} to {int(self.high):,}"
        return f"a number from {self.low:g} to {self.high:g}"

    def clamped(self, value: float, default: float) -> float:
        """``value`` moved into the range (a value that is no number at all: ``default``)."""
        number = float(value)
        if not math.isfinite(number):
            number = float(default)
        number = min(max(number, self.low), self.high)
        return int(number) if self.whole else number


N = TypeVar("N", int, float)


def _option(default: N, low: N, high: N, label: str, help: str, **shown: Any) -> N:
    """A field of ``GenerationSettings`` with its default and its ``SamplingOption``."""
    return field(
        default=default, metadata={"sampling": SamplingOption(low, high, label, help, **shown)}
    )


@dataclass
class GenerationSettings:
    """Sampling parameters for one answer. Each field carries its limits, read by every place
    that sets or checks it (``SAMPLING`` lists them): to add a sampling option, add a field here.

    The limits are what llama.cpp does something sensible with, and where OpenAI's API documents
    a range (temperature, top_p), that range, so a request the API refuses is one OpenAI would
    refuse too. Past them llama.cpp either changes nothing (top-k beyond the vocabulary) or
    produces noise (temperature above 2; a repeat penalty below 1 rewards repeating).
    """

    # OpenAI: 0 to 2. 0 is greedy in llama.cpp; above 2 every model's answer is noise.
    temperature: float = _option(
        0.7, 0.0, 2.0, "Temperature",
        "How adventurous the wording is: 0 always takes the likeliest next word (the same answer "
        "every time), 0.7 suits most chats, towards 2 the answer wanders off.",
        step=0.05, decimals=2,
    )  # fmt: skip
    # OpenAI: 0 to 1; llama.cpp keeps at least one token, and 1 turns the filter off.
    top_p: float = _option(
        0.95, 0.0, 1.0, "Top-p",
        "Choose only among the likeliest next words that together make up this share of the "
        "probability. 1 turns it off.",
        step=0.01, decimals=2,
    )  # fmt: skip
    # llama.cpp: 0 (or less) turns it off, and a k beyond the vocabulary changes nothing; past a
    # thousand the words left out carry no probability worth a sample.
    top_k: int = _option(
        40, 0, 1000, "Top-k",
        "Choose only among this many of the likeliest next words. Off considers them all.",
        at_low="off",
    )  # fmt: skip
    # llama.cpp: a fraction of the likeliest token's probability, 0 turns it off.
    min_p: float = _option(
        0.05, 0.0, 1.0, "Min-p",
        "Leave out words less likely than this fraction of the likeliest one. 0 turns it off.",
        step=0.01, decimals=2,
    )  # fmt: skip
    # llama.cpp divides a repeated token's logit by it: below 1 repeating is rewarded (0 makes
    # every repeated token infinitely likely), 1 turns it off, at 2 even "the" is halved.
    repeat_penalty: float = _option(
        1.1, 1.0, 2.0, "Repeat penalty",
        "Make words used in the last 64 tokens less likely. 1 turns it off, 1.1 is usual; much "
        "more garbles the answer.",
        step=0.01, decimals=2,
    )  # fmt: skip
    # No answer is longer than the largest context the app opens (Settings → App: 131,072).
    max_tokens: int = _option(
        1024, 1, 131_072, "Max new tokens",
        "The longest answer, in tokens (a token is about three quarters of an English word).",
        step=64,
    )  # fmt: skip
    # llama.cpp's seeds are 32-bit, and 0xFFFFFFFF means "random" to it; a spin box holds a C
    # int. -1: a new random seed for every answer.
    seed: int = _option(
        -1, -1, 2**31 - 1, "Seed",
        "The same seed, settings and question give the same answer again. Random picks a new "
        "one for every answer.",
        at_low="random",
    )  # fmt: skip

    def overridden(self, **values: float | int | None) -> GenerationSettings:
        """A copy with the values given (``None``: not given, the setting stays)."""
        given: dict[str, Any] = {name: v for name, v in values.items() if v is not None}
        return replace(self, **given)

    def validated(self) -> GenerationSettings:
        """A copy with every value moved into its range (``SAMPLING``)."""
        defaults = GenerationSettings()
        clamped: dict[str, Any] = {
            name: option.clamped(getattr(self, name), getattr(defaults, name))
            for name, option in SAMPLING.items()
        }
        return replace(self, **clamped)


# Every sampling option's limits, by field name, in the order the dialog shows them.
SAMPLING: dict[str, SamplingOption] = {
    item.name: item.metadata["sampling"] for item in fields(GenerationSettings)
}


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
    studio_table_share: float = 0.0  # Make your own, Data: the table's share (0: the default)
    last_conversation: int = 0
    chat_preset: str = "Default"  # the preset new chats start with: the one picked last
    # the local OpenAI-compatible API (Settings → Local API); off until the user turns it on
    local_api_enabled: bool = False
    local_api_port: int = 8765
    local_api_network: bool = False  # every network, not only this computer (key required)
    local_api_parallel: int = 4  # requests the local API answers at once (decoded together)
    schema_version: int = SCHEMA_VERSION


def _coerce(dataclass_type: type, raw: Any, base: Any = None) -> Any:
    """Build ``dataclass_type`` from ``raw``, keeping ``base``'s values (the defaults when it is
    None) for missing or ill-typed keys."""
    instance = dataclass_type() if base is None else replace(base)
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
        elif (
            isinstance(default, (int, float))
            and isinstance(value, (int, float))
            and math.isfinite(value)
        ):
            setattr(instance, item.name, type(default)(value))
        elif isinstance(default, str) and isinstance(value, str):
            setattr(instance, item.name, value)
        else:
            log.warning("settings: ignoring %s=%r (expected %s)", item.name, value, type(default))
    return instance


def generation_from(raw: Any, fallback: GenerationSettings) -> GenerationSettings:
    """Generation settings stored with a chat (or anything else): each missing, ill-typed or
    out-of-range value gives way to ``fallback``'s or is clamped, never an error."""
    return _coerce(GenerationSettings, raw, fallback).validated()


def _read(path: Path) -> dict[str, Any] | None:
    """The raw settings dict; None when there is no file. A damaged file is moved aside."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raw = exc
    if isinstance(raw, dict):
        return raw
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    log.warning("settings file %s is unreadable (%s); kept as %s", path, raw, backup.name)
    try:
        path.replace(backup)
    except OSError:
        log.warning("could not move the damaged settings file aside")
    return None


def _version(raw: dict[str, Any]) -> int:
    version = raw.get("schema_version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def _migrated(raw: dict[str, Any]) -> dict[str, Any]:
    version = _version(raw)
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](raw)
        version += 1
    raw["schema_version"] = max(version, SCHEMA_VERSION)
    return raw


def _from_raw(raw: dict[str, Any] | None) -> Settings:
    settings = _coerce(Settings, _migrated(dict(raw)) if raw is not None else {})
    settings.generation = settings.generation.validated()
    settings.schema_version = SCHEMA_VERSION
    return settings


def load(path: Path | None = None) -> Settings:
    """The settings in ``path`` (the user's settings file by default), read-only."""
    return _from_raw(_read(path or paths.settings_file()))


class SettingsStore:
    """The one owner of the settings in this process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.settings_file()
        raw = _read(self.path)
        self.settings = _from_raw(raw)
        version = _version(raw) if raw is not None else SCHEMA_VERSION
        # A newer Huacaya's file: use what is understood, never write it back downgraded.
        self.read_only = version > SCHEMA_VERSION
        self.notice = (
            f"The settings file is from a newer version of Huacaya (schema {version}); "
            "changes made here are not saved to it."
            if self.read_only
            else ""
        )
        self._changed: set[str] = set()
        self._listeners: list[Callable[[set[str]], None]] = []

    def subscribe(self, listener: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call ``listener(changed keys)`` after every update; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def update(self, **changes: Any) -> None:
        """Set settings by name, save them and tell the subscribers what changed."""
        known = {item.name for item in fields(Settings)}
        unknown = set(changes) - known
        if unknown:
            raise AttributeError(f"unknown settings: {', '.join(sorted(unknown))}")
        changed = {key for key, value in changes.items() if getattr(self.settings, key) != value}
        for key in changed:
            setattr(self.settings, key, changes[key])
        if not changed:
            return
        self._changed |= changed
        self.save()
        for listener in list(self._listeners):
            listener(changed)

    def save(self) -> None:
        """Write the keys changed in this process over the file's current content."""
        if self.read_only or not self._changed:
            return
        on_disk = _read(self.path)
        if on_disk is not None and _version(on_disk) > SCHEMA_VERSION:
            self.read_only = True  # a newer Huacaya wrote it meanwhile: leave it alone
            return
        merged = _migrated(dict(on_disk)) if on_disk is not None else {}
        mine = asdict(self.settings)
        merged.update({key: mine[key] for key in self._changed})
        merged["schema_version"] = SCHEMA_VERSION
        try:
            atomic_write_text(self.path, json.dumps(merged, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise SettingsError(
                f"The settings could not be saved to “{self.path}”: {exc.strerror or exc}."
            ) from exc
