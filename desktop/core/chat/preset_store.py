"""The presets a person can pick: the built-in ones, then their own, kept in ``presets.json`` in
the data folder and written atomically (a crash leaves the old file or the new one).

Built-in presets cannot be renamed or deleted (a chat that names one always finds it); they can
be duplicated, and the copy changed. Names are unique, ignoring case. Importing a file adds its
presets as the user's own; a name already taken gets " (2)", " (3)"… so nothing is overwritten.
A damaged ``presets.json`` is kept aside (``presets.json.damaged-…``) and the built-in presets
stay usable.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from conversion.errors import NotARegularFileError, PresetError
from conversion.input_files import read_text
from conversion.output import atomic_write_text
from desktop.core import paths
from desktop.core.chat.presets import (
    BUILTIN_PRESETS,
    Preset,
    check_name,
    parse_presets,
    presets_json,
)

log = logging.getLogger(__name__)

FILE_NAME = "presets.json"
LARGEST_FILE = 16 * 2**20  # a hundred presets with long system prompts are well under 1 MB


def read_presets_file(path: Path, allow_empty: bool = False) -> list[Preset]:
    """The presets in the file at ``path``, each checked; :class:`PresetError` naming the file
    and the first problem otherwise."""
    try:
        text = read_text(path, LARGEST_FILE)
    except FileNotFoundError:
        raise PresetError(f"“{path.name}” does not exist.", "Choose another file.") from None
    except (OSError, NotARegularFileError, ValueError) as exc:
        reason = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
        raise PresetError(
            f"“{path.name}” cannot be read: {reason}.", "Choose another file."
        ) from None
    try:
        return parse_presets(text, allow_empty)
    except PresetError as exc:
        raise PresetError(f"“{path.name}”: {exc.message}", exc.hint) from None


class PresetStore:
    """Built-in presets and the user's own, by name."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / FILE_NAME
        self.user: list[Preset] = self._load()

    @property
    def presets(self) -> list[Preset]:
        return [*BUILTIN_PRESETS, *self.user]

    def get(self, name: str) -> Preset | None:
        key = name.strip().casefold()
        return next((p for p in self.presets if p.name.casefold() == key), None)

    def _require_own(self, name: str) -> Preset:
        preset = self.get(name)
        if preset is None:
            raise PresetError(f"There is no preset called “{name}”.")
        if preset.builtin:
            raise PresetError(
                f"“{preset.name}” comes with Huacaya and cannot be changed or deleted.",
                "Duplicate it and change the copy.",
            )
        return preset

    def _free_name(self, name: str, exclude: str = "") -> None:
        taken = self.get(name)
        if taken is not None and taken.name.casefold() != exclude.casefold():
            raise PresetError(
                f"A preset called “{taken.name}” already exists.", "Choose another name."
            )

    def unique_name(self, name: str, also: tuple[str, ...] = ()) -> str:
        """``name``, or ``name (2)``, ``name (3)``… the first that no preset (and none of
        ``also``) has."""
        others = {n.casefold() for n in also}
        base, number, candidate = name, 2, name
        while self.get(candidate) is not None or candidate.casefold() in others:
            suffix = f" ({number})"
            candidate = base[: 60 - len(suffix)] + suffix
            number += 1
        return candidate

    # -- changes (each saved at once) -------------------------------------------------------

    def add(self, preset: Preset) -> Preset:
        name = check_name(preset.name)
        self._free_name(name)
        added = replace(preset, name=name, builtin=False)
        self._save([*self.user, added])
        return added

    def duplicate(self, name: str) -> Preset:
        """A copy of preset ``name`` (built in or not) as the user's own, "… copy"."""
        original = self.get(name)
        if original is None:
            raise PresetError(f"There is no preset called “{name}”.")
        return self.add(replace(original, name=self.unique_name(f"{original.name} copy")))

    def rename(self, name: str, new_name: str) -> Preset:
        preset = self._require_own(name)
        new_name = check_name(new_name)
        self._free_name(new_name, exclude=preset.name)
        renamed = replace(preset, name=new_name)
        self._save([renamed if p is preset else p for p in self.user])
        return renamed

    def update(self, preset: Preset) -> Preset:
        """Replace the user's preset of that name by ``preset`` (its values changed)."""
        old = self._require_own(preset.name)
        new = replace(preset, name=old.name, builtin=False)
        self._save([new if p is old else p for p in self.user])
        return new

    def delete(self, name: str) -> None:
        preset = self._require_own(name)
        self._save([p for p in self.user if p is not preset])

    def import_file(self, path: Path) -> list[Preset]:
        """Add the presets in the file at ``path`` (all or none, when one is not valid); a name
        already taken is numbered. Returns what was added."""
        added: list[Preset] = []
        for preset in read_presets_file(path):
            free = self.unique_name(preset.name, tuple(p.name for p in added))
            added.append(replace(preset, name=free, builtin=False))
        self._save([*self.user, *added])
        return added

    def export_file(self, path: Path, names: list[str]) -> None:
        """Write the presets called ``names`` to a presets file at ``path`` (atomically)."""
        chosen = [p for p in (self.get(n) for n in names) if p is not None]
        if not chosen:
            raise PresetError("No preset is chosen to export.", "Select one or more presets.")
        try:
            atomic_write_text(path, presets_json(chosen))
        except OSError as exc:
            raise PresetError(
                f"The presets could not be written to “{path}”: {exc.strerror or exc}.",
                "Choose a folder you can write to.",
            ) from exc

    # -- the file --------------------------------------------------------------------------

    def _save(self, user: list[Preset]) -> None:
        try:
            atomic_write_text(self.path, presets_json(user))
        except OSError as exc:
            raise PresetError(
                f"The presets could not be saved to “{self.path}”: {exc.strerror or exc}.",
                "Check that the data folder can be written to; nothing was changed.",
            ) from exc
        self.user = user

    def _load(self) -> list[Preset]:
        if not self.path.exists():
            return []
        try:
            presets = read_presets_file(self.path, allow_empty=True)
        except PresetError as exc:
            backup = self.path.with_name(f"{FILE_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            log.warning("%s; kept as %s, the built-in presets stay", exc.message, backup.name)
            try:
                self.path.replace(backup)
            except OSError:
                log.warning("could not move the damaged presets file aside")
            return []
        builtin = {p.name.casefold() for p in BUILTIN_PRESETS}
        return [p for p in presets if p.name.casefold() not in builtin]
