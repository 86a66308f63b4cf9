"""Which model should write instruction data: plain advice when the chosen teacher is too small.

A self-instruct teacher must follow a numbered Instruction/Input/Output format and write tasks
worth learning from. The 135M starter model can do neither reliably: in one run it kept 2 of 29
records in 13 minutes. The data-generation command (and later the window) says so before it
starts, and names a better teacher: an installed one first, else one from the catalogue to
download (or to download once online).
"""

from __future__ import annotations

from pathlib import Path

from conversion.errors import HuacayaError
from conversion.gguf_file import read_gguf_info
from desktop.core.models.catalog import (
    GOOD_TEACHER,
    CatalogEntry,
    load_catalog,
    teacher_grade,
)
from desktop.core.models.library import ModelEntry, ModelLibrary


def _size(parameters: int) -> str:
    if parameters >= 1_000_000_000:
        return f"{parameters / 1e9:.1f}B"
    return f"{parameters / 1e6:.0f}M"


def better_installed(library: ModelLibrary, than: int) -> list[ModelEntry]:
    """Installed models that teach better than a model of ``than`` parameters, best first."""
    found = [
        e
        for e in library.entries()
        if e.parameter_count > than and teacher_grade(e.parameter_count) in ("good", "fair")
    ]
    return sorted(found, key=lambda e: -e.parameter_count)


def download_suggestion(catalog: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    """The smallest download in the catalogue that is a good teacher and fits this computer."""
    candidates = [
        e
        for e in (catalog if catalog is not None else load_catalog())
        if e.teacher_grade == "good" and e.fits() and not e.needs_base_folder
    ]
    return min(candidates, key=lambda e: e.download_gb, default=None)


def teacher_advice(
    path: Path,
    library: ModelLibrary,
    offline: bool,
    catalog: list[CatalogEntry] | None = None,
) -> str:
    """What to expect from the GGUF teacher at ``path``, and a better one; "" for a teacher
    of a useful size (or of a size the file does not say)."""
    entry = library.entry_at(path)
    parameters = entry.parameter_count if entry is not None else 0
    if parameters <= 0:
        try:
            parameters = read_gguf_info(path).parameter_count
        except HuacayaError:
            return ""  # the teacher itself reports an unusable file
    if teacher_grade(parameters) != "poor":
        return ""
    name = entry.name if entry is not None else path.name
    measured = "in one run it" if entry is not None and entry.is_starter else "the 135M starter"
    lines = [
        f"{name} has {_size(parameters)} parameters: as a teacher it writes few tasks the "
        f"filters keep, and many of those are wrong ({measured} kept 2 of 29 records in 13 "
        "minutes on a laptop CPU). Use it to try the steps, not for data to train on: teachers "
        f"from {GOOD_TEACHER / 1e9:g}B parameters write data worth keeping."
    ]
    installed = better_installed(library, parameters)
    if installed:
        best = installed[0]
        lines.append(
            f"Installed and better: {best.name} ({_size(best.parameter_count)}, a "
            f"{teacher_grade(best.parameter_count)} teacher): --teacher gguf:{best.id}"
        )
    if not installed or teacher_grade(installed[0].parameter_count) != "good":
        download = download_suggestion(catalog)
        if download is not None:
            command = f"huacaya models pull {download.id}"
            where = "Once you are online, download" if offline else "Download"
            lines.append(
                f"{where} {download.name} ({download.params_b:g}B, {download.download_gb:g} "
                f"GB, a good teacher): {command}"
            )
    lines.append("Or use a larger model behind an OpenAI-compatible API: --teacher openai:MODEL")
    return "\n".join(lines)
