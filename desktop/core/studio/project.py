"""A "Make your own" project: one folder in the data folder, its files named in one place."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from conversion.errors import StudioError
from conversion.input_files import parse_json
from conversion.output import atomic_write_text
from desktop.core import paths

STUDIO_FOLDER = "studio"
PROJECT_FILE = "project.json"
RUNS_FOLDER = "runs"
MAX_NAME = 80
# Names Windows keeps for devices: a folder called "con" or "nul" cannot be made there.
_WRITABLE = "Check that the data folder can be written (free space, permissions)."
_READABLE = "Check that your user may read that folder and its files."
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{n}" for d in ("com", "lpt") for n in range(10)}


@dataclass(frozen=True)
class ProjectInfo:
    """What ``project.json`` holds: plain data, written atomically."""

    name: str
    base: str = ""  # the library model (id or name) the fine-tune starts from
    teacher: str = ""  # an installed model's id, or an endpoint URL; "" until chosen
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())


def studio_dir() -> Path:
    return paths.data_dir() / STUDIO_FOLDER


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    if slug in _RESERVED:  # a project may move to Windows with its data folder
        slug += "-project"
    return slug or "project"


def check_name(name: str) -> str:
    # Control characters (a pasted NUL, a tab) are not part of a name a list can show.
    name = "".join(" " if unicodedata.category(c) == "Cc" else c for c in name)
    name = " ".join(name.split())
    if not name:
        raise StudioError("A project needs a name.", "Type a name, such as “Cooking assistant”.")
    if len(name) > MAX_NAME:
        raise StudioError(f"A project name has at most {MAX_NAME} characters.", "Shorten it.")
    return name


class StudioProject:
    """One project's folder. Every file of the loop is named here, so the steps agree."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.info = self._read()

    # -- the files of the loop ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def records_path(self) -> Path:
        """The records to train on (Alpaca JSON Lines), as the person last saved them."""
        return self.folder / "data.jsonl"

    @property
    def generation_dir(self) -> Path:
        """Data generation's own output folder (its journal makes it resumable)."""
        return self.folder / "generation"

    @property
    def runs_dir(self) -> Path:
        """Training runs, one folder each (``huacaya-train --out``)."""
        return self.folder / RUNS_FOLDER

    @property
    def compare_dir(self) -> Path:
        """The base-against-fine-tune comparison's prompts and answer sets."""
        return self.folder / "compare"

    # -- project.json ---------------------------------------------------------------------------

    def _read(self) -> ProjectInfo:
        path = self.folder / PROJECT_FILE
        try:
            raw: Any = parse_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # (UnicodeDecodeError too)
            raise StudioError(
                f"The project in “{self.folder.name}” cannot be read: {exc}.",
                f"Mend or restore its {PROJECT_FILE} (a text editor shows what is wrong); its "
                "records and runs are untouched.",
            ) from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise StudioError(
                f"The project in “{self.folder.name}” has no name in its {PROJECT_FILE}.",
                "Its other files are untouched; give the file a “name”.",
            )
        known = {k: str(raw[k]) for k in ("name", "base", "teacher", "created") if k in raw}
        # A name emptied by hand would be an empty line in the list: the folder's stands in.
        known["name"] = " ".join(known["name"].split()) or self.folder.name
        return ProjectInfo(**known)

    def keep_on_disk(self) -> None:
        """Write ``project.json`` again if the folder (or the file) was removed while the
        project was open, so that what is saved next still belongs to a project."""
        if not (self.folder / PROJECT_FILE).exists():
            _write_info(self.folder, self.info)

    def update(self, **changes: str) -> ProjectInfo:
        """Change ``project.json`` (written to a temporary file and renamed)."""
        info = replace(self.info, **changes)
        check_name(info.name)
        _write_info(self.folder, info)
        self.info = info
        return info


def _write_info(folder: Path, info: ProjectInfo) -> None:
    text = json.dumps(asdict(info), indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write_text(folder / PROJECT_FILE, text)
    except OSError as exc:
        raise StudioError(
            f"The project “{info.name}” could not be saved: {exc}.", _WRITABLE
        ) from exc


def create_project(name: str, base: str = "", root: Path | None = None) -> StudioProject:
    """A new project folder, named from ``name`` and never over another project's."""
    name = check_name(name)
    root = root or studio_dir()
    taken = next((p for p in list_projects(root) if p.name.casefold() == name.casefold()), None)
    if taken is not None:  # two projects of one name could not be told apart in the list
        raise StudioError(
            f"There is a project named “{taken.name}” already.",
            "Choose it in the Project list, or give the new one another name.",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudioError(f"The project “{name}” could not be created: {exc}.", _WRITABLE) from exc
    slug, number = _slug(name), 1
    folder = root / slug
    while folder.exists():
        number += 1
        folder = root / f"{slug}-{number}"
    try:
        folder.mkdir()
    except OSError as exc:
        raise StudioError(f"The project “{name}” could not be created: {exc}.", _WRITABLE) from exc
    try:
        _write_info(folder, ProjectInfo(name=name, base=base))
    except StudioError:
        folder.rmdir()  # empty: nothing half-made is left behind
        raise
    return StudioProject(folder)


def list_projects(root: Path | None = None) -> list[StudioProject]:
    """Every readable project, newest first; a damaged one is skipped, never removed."""
    return scan_projects(root)[0]


class Damaged(NamedTuple):
    """A folder of the projects folder that could not be read as a project, and why."""

    folder: Path
    error: StudioError


def scan_projects(root: Path | None = None) -> tuple[list[StudioProject], list[Damaged]]:
    """Every readable project, newest first, and each other folder that holds a project's
    files but could not be read (a damaged or unreadable ``project.json``): those are left as
    they are, for the person to mend, and said so rather than silently missing."""
    root = root or studio_dir()
    found, damaged = [], []
    try:
        folders = (
            sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []
        )
    except OSError as exc:
        error = StudioError(f"The projects folder “{root}” cannot be read: {exc}.", _READABLE)
        return [], [Damaged(root, error)]
    for folder in folders:
        try:
            if not folder.is_dir() or not any(folder.iterdir()):
                continue  # a stray file, or an empty folder: nothing of a project's
            found.append(StudioProject(folder))
        except StudioError as exc:
            damaged.append(Damaged(folder, exc))
        except OSError as exc:
            error = StudioError(f"The project in “{folder.name}” cannot be read: {exc}.", _READABLE)
            damaged.append(Damaged(folder, error))
    return sorted(found, key=lambda p: p.info.created, reverse=True), damaged
