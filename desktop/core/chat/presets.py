"""Presets: named bundles of a system prompt and sampling values, chosen per chat.

A preset sets only the sampling values it names; the others stay the model's defaults (Settings →
This chat → "Use these as the default for new chats with this model"), so "Default", which names
none, is exactly what a chat started with before presets existed. A chat keeps the name of the
preset it uses (``ChatSession.preset``) beside its own system prompt and sampling; when those no
longer match the preset applied to the model's defaults, the preset shows as changed.

Presets travel as JSON (:func:`presets_json`, :func:`parse_presets`): one preset or several per
file, every value checked against the ranges of ``settings.SAMPLING`` and each problem named in
one line. The store of the user's own presets is ``preset_store.py``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from conversion.errors import PresetError
from conversion.input_files import lone_surrogate, parse_json
from desktop.core.settings import SAMPLING, GenerationSettings

FILE_FORMAT = "huacaya-presets"
FILE_VERSION = 1
LONGEST_NAME = 60
LONGEST_DESCRIPTION = 1_000
LONGEST_SYSTEM_PROMPT = 100_000  # a long persona with examples is a few thousand characters
FIELDS = ("name", "description", "system_prompt", "sampling")
CHANGED = " (changed)"


@dataclass(frozen=True)
class Preset:
    """A named system prompt and the sampling values it sets (by ``GenerationSettings`` field
    name; the ones it does not name stay the model's defaults)."""

    name: str
    description: str = ""
    system_prompt: str = ""
    sampling: dict[str, float | int] = field(default_factory=dict)
    builtin: bool = False  # shipped with Huacaya: cannot be renamed or deleted, only duplicated

    def generation(self, defaults: GenerationSettings) -> GenerationSettings:
        """``defaults`` with this preset's values."""
        values: dict[str, Any] = dict(self.sampling)  # (each field's type checked on reading)
        return replace(defaults, **values).validated()

    def matches(self, system_prompt: str, generation: GenerationSettings,
                defaults: GenerationSettings) -> bool:  # fmt: skip
        """Whether a chat with ``system_prompt`` and ``generation`` uses this preset unchanged."""
        return (
            system_prompt.strip() == self.system_prompt.strip()
            and generation.validated() == self.generation(defaults)
        )

    def record(self) -> dict[str, Any]:
        """The preset as it is written to a file."""
        return {
            "name": self.name,
            "description": self.description,
            "system_prompt": self.system_prompt,
            "sampling": dict(self.sampling),
        }


def shown_name(name: str, changed: bool) -> str:
    """What the picker shows: "Precise", or "Precise (changed)" once a value was changed."""
    return f"{name}{CHANGED}" if changed else name


BUILTIN_PRESETS: tuple[Preset, ...] = (
    Preset(
        "Default",
        "The model's default sampling (Settings → This chat → “Use these as the default…”) and "
        "no system prompt: the model answers as its chat template and training make it.",
        builtin=True,
    ),
    Preset(
        "Precise",
        "Low temperature (0.2): the likeliest wording, close to the same answer every time. For "
        "facts, code, summaries and reformatting text. Less varied, and no more correct than "
        "the model is.",
        "Answer accurately and to the point. If you do not know or are not sure, say so instead "
        "of guessing.",
        {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "min_p": 0.05},
        builtin=True,
    ),
    Preset(
        "Creative",
        "Higher temperature (1.0) and a slightly stronger repeat penalty: more varied wording "
        "and ideas, a different answer each time. For stories, brainstorming and rewording; "
        "answers drift from the facts more often.",
        "You are an imaginative writing partner. Offer vivid, original ideas and varied wording.",
        {"temperature": 1.0, "top_p": 0.95, "top_k": 100, "min_p": 0.05, "repeat_penalty": 1.15},
        builtin=True,
    ),
    Preset(
        "Concise",
        "A system prompt asking for short answers, and answers cut at 256 tokens (about 190 "
        "words). Small models do not always keep to it; the cut always holds.",
        "Answer in as few words as the question allows: no preamble, no restating the question, "
        "no closing summary.",
        {"temperature": 0.5, "max_tokens": 256},
        builtin=True,
    ),
    Preset(
        "Reproducible",
        "Temperature 0 and no repeat penalty: always the likeliest next word, so the same "
        "question in the same chat gets the same answer again on this machine and model (for "
        "comparing models or prompts). Prone to repeating itself in long answers.",
        "",
        {"temperature": 0.0, "repeat_penalty": 1.0, "seed": 42},
        builtin=True,
    ),
)


# -- reading presets from JSON ---------------------------------------------------------------


def _where(index: int | None, name: object) -> str:
    which = f"preset {index}" if index is not None else "the preset"
    return f"{which} (“{name}”)" if isinstance(name, str) and name.strip() else which


def _text(record: dict[str, Any], key: str, where: str, longest: int) -> str:
    value = record.get(key, "")
    if not isinstance(value, str):
        raise PresetError(f"In {where}, “{key}” is {_kind(value)}, not text.")
    if len(value) > longest:
        raise PresetError(
            f"In {where}, “{key}” is {len(value):,} characters long; at most {longest:,} are taken."
        )
    if lone_surrogate(value) is not None:
        raise PresetError(f"In {where}, “{key}” holds an invalid character (a lone surrogate).")
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {value:g}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def check_name(name: object, where: str = "the preset") -> str:
    """A preset's name as it is kept (trimmed), or :class:`PresetError` saying what is wrong."""
    if not isinstance(name, str):
        raise PresetError(f"The name of {where} is {_kind(name)}, not text.")
    name = name.strip()
    if not name:
        raise PresetError(f"{where[0].upper()}{where[1:]} has no name.")
    if len(name) > LONGEST_NAME:
        raise PresetError(
            f"The name of {where} is {len(name)} characters long; at most {LONGEST_NAME} are taken."
        )
    if any(c in name for c in "\n\r\t") or lone_surrogate(name) is not None:
        raise PresetError(f"The name of {where} holds a line break, a tab or an invalid character.")
    if name.endswith(CHANGED):
        raise PresetError(
            f"The name of {where} ends with “{CHANGED.strip()}”, which the picker adds."
        )
    return name


def _sampling(raw: object, where: str) -> dict[str, float | int]:
    if not isinstance(raw, dict):
        raise PresetError(f"In {where}, “sampling” is {_kind(raw)}, not an object of values.")
    values: dict[str, float | int] = {}
    for key, value in raw.items():
        option = SAMPLING.get(key)
        if option is None:
            raise PresetError(
                f"In {where}, “sampling” has an unknown field “{key}” (known: "
                f"{', '.join(SAMPLING)})."
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PresetError(f"In {where}, {key} is {_kind(value)}; it must be {option.bounds}.")
        if not math.isfinite(value) or not option.low <= value <= option.high:
            raise PresetError(
                f"In {where}, {key} is {value:g}, out of range: it must be {option.bounds}."
            )
        if option.whole and value != int(value):
            raise PresetError(f"In {where}, {key} is {value:g}; it must be {option.bounds}.")
        values[key] = int(value) if option.whole else float(value)
    return values


def preset_from_record(record: object, index: int | None = None) -> Preset:
    """A preset read from its JSON object, every field checked (a user preset, never built in).
    ``index``: its place in the file (1-based), named in the message of an error."""
    if not isinstance(record, dict):
        raise PresetError(f"{_where(index, None).capitalize()} is {_kind(record)}, not an object.")
    where = _where(index, record.get("name"))
    unknown = [key for key in record if key not in FIELDS]
    if unknown:
        raise PresetError(
            f"In {where}, “{unknown[0]}” is an unknown field (known: {', '.join(FIELDS)})."
        )
    return Preset(
        name=check_name(record.get("name"), where),
        description=_text(record, "description", where, LONGEST_DESCRIPTION),
        system_prompt=_text(record, "system_prompt", where, LONGEST_SYSTEM_PROMPT),
        sampling=_sampling(record.get("sampling", {}), where),
    )


def parse_presets(text: str | bytes, allow_empty: bool = False) -> list[Preset]:
    """The presets of a file's text: a presets file (``{"format": "huacaya-presets",
    "version": 1, "presets": [...]}``), a list of presets, or one preset object. Raises
    :class:`PresetError` naming the first problem (the caller adds the file's name)."""
    try:
        data = parse_json(text)
    except ValueError as exc:
        raise PresetError(f"The file is not a presets file: {exc}.") from None
    if isinstance(data, dict) and "presets" in data:
        version = data.get("version", FILE_VERSION)
        if data.get("format", FILE_FORMAT) != FILE_FORMAT:
            raise PresetError(f"The file's format is “{data.get('format')}”, not {FILE_FORMAT}.")
        if not isinstance(version, int) or isinstance(version, bool) or version > FILE_VERSION:
            raise PresetError(
                f"The file is version {version} of the presets format; this Huacaya reads "
                f"version {FILE_VERSION}.",
                "Update Huacaya, or export the presets again from the version that made them.",
            )
        unknown = [key for key in data if key not in ("format", "version", "presets")]
        if unknown:
            raise PresetError(f"The file has an unknown field “{unknown[0]}” beside “presets”.")
        records = data["presets"]
        if not isinstance(records, list):
            raise PresetError(f"The file's “presets” is {_kind(records)}, not a list.")
    elif isinstance(data, list):
        records = data
    elif isinstance(data, dict):
        return [preset_from_record(data)]
    else:
        raise PresetError(f"The file holds {_kind(data)}, not presets.")
    if not records and not allow_empty:
        raise PresetError("The file holds no presets.")
    presets = [preset_from_record(record, i) for i, record in enumerate(records, 1)]
    seen: set[str] = set()
    for i, preset in enumerate(presets, 1):
        if preset.name.casefold() in seen:
            raise PresetError(f"Preset {i} is named “{preset.name}”, as an earlier one is.")
        seen.add(preset.name.casefold())
    return presets


def presets_json(presets: list[Preset]) -> str:
    """A presets file holding ``presets`` (built-in ones too: they import as the user's)."""
    record = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "presets": [preset.record() for preset in presets],
    }
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
