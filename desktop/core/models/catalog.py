"""The curated catalogue (resources/catalog.json): models worth running on a laptop."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass

from conversion.errors import LibraryError
from desktop.core import hardware
from desktop.core.jobs.store import JobSpec

CATALOG_FILE = "catalog.json"
RAM_SHARE = 0.75  # a model should leave a quarter of the memory to everything else

# Teachers for self-instruct data, by size. Stanford's was text-davinci-003 (175B). Instruct
# models from about 3B parameters follow the numbered Instruction/Input/Output format and write
# tasks worth keeping; 1–3B ones follow it with more records dropped by the filters; below 1B
# most of what they write is dropped or wrong (the 135M starter kept 2 of 29 records in 13
# minutes on a laptop CPU).
GOOD_TEACHER = 3_000_000_000
FAIR_TEACHER = 1_000_000_000


def teacher_grade(parameters: int) -> str:
    """ "good", "fair" or "poor" as a self-instruct teacher, for a model of ``parameters``;
    "" when the size is unknown."""
    if parameters <= 0:
        return ""
    if parameters >= GOOD_TEACHER:
        return "good"
    return "fair" if parameters >= FAIR_TEACHER else "poor"


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    family: str
    repo: str
    format: str  # "safetensors", "pytorch" (.bin), "gguf", "lora" or "weight-diff"
    quant: str
    download_gb: float
    ram_gb: float
    licence: str
    token: bool
    notes: str = ""  # what to know before installing it (a token, a base model…)
    description: str = ""  # what it is good for, in a sentence or two (ours)
    params_b: float = 0.0  # billions of parameters (0: not stated)
    file: str = ""  # the GGUF file, for "gguf"
    base: str = ""  # what a LoRA adapter or weight diff needs (for people)
    base_repo: str = ""  # …when that is a Hub repository, downloaded with it

    @property
    def needs_base_folder(self) -> bool:
        """A weight diff whose base the user must provide (LLaMA-7B is not on the Hub)."""
        return self.format in ("lora", "weight-diff") and not self.base_repo

    @property
    def teacher_grade(self) -> str:
        """How well it writes instruction data as a teacher (``teacher_grade``)."""
        return teacher_grade(int(self.params_b * 1e9))

    def fits(self, total_ram_bytes: int | None = None) -> bool:
        total = total_ram_bytes if total_ram_bytes is not None else hardware.total_memory_bytes()
        return self.ram_gb * 1e9 <= total * RAM_SHARE


def load_catalog() -> list[CatalogEntry]:
    text = (importlib.resources.files("desktop.resources") / CATALOG_FILE).read_text("utf-8")
    return [CatalogEntry(**entry) for entry in json.loads(text)["models"]]


def job_spec(entry: CatalogEntry, quant: str, base_folder: str = "") -> JobSpec:
    """The job that installs ``entry``: its download, plus its base model where it needs one."""
    if entry.format == "gguf":
        return JobSpec("hub", entry.repo, entry.name, entry.quant, entry.file)
    if entry.needs_base_folder and not base_folder:
        raise LibraryError(
            f"{entry.name} needs {entry.base}.",
            "Choose that folder (in the command line: --base FOLDER).",
        )
    return JobSpec(
        "hub", entry.repo, entry.name, quant, base=base_folder, base_repo=entry.base_repo
    )


def find_entry(name: str) -> CatalogEntry | None:
    return next((e for e in load_catalog() if name in (e.id, e.repo)), None)
