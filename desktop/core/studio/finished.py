"""A project's finished training runs, and turning one into a model of the library.

A run is a folder of ``project.runs_dir`` written by ``huacaya-train --out``; it is finished
when its ``manifest.json`` says so and its ``model/`` (a full checkpoint, or a LoRA adapter of
the base) is there. Exporting is ``conversion.train.export.export_to_library``, the function
``huacaya-train --export-gguf`` calls: torch-free (our converter in this process, llama.cpp's
quantizer and the answer check in the app's own import job, a child process). Which library
model each run became is remembered in the project's ``exports.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conversion.errors import ModelNameError, StudioError, TrainingError
from conversion.input_files import parse_json
from conversion.model_names import new_model_name, tidy_name
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.models.library import ModelLibrary
from desktop.core.studio.project import StudioProject
from desktop.core.studio.run_names import run_label

EXPORTS_FILE = "exports.json"
MODEL = "model"  # conversion.train.run.MODEL (that module imports torch)
MANIFEST = "manifest.json"  # conversion.train.run_record.MANIFEST
GGUF_SOURCE = "huacaya-gguf-source.json"  # conversion.train.gguf_base.SOURCE_RECORD (torch)
DEFAULT_QUANTIZATION = "q8_0"

# Every type export_to_library accepts, the recommended first, in words: size against quality
# (bits per weight as llama.cpp reports them, rounded).
QUANTIZATIONS: tuple[tuple[str, str], ...] = (
    ("q8_0", "8.5 bits a weight: as good as the trained model, half the size of F16"),
    ("q6_k", "6.6 bits: nearly as good, a quarter smaller than Q8_0"),
    ("q5_k_m", "5.7 bits: a little worse, a third smaller than Q8_0"),
    ("q4_k_m", "4.8 bits: the usual compromise for large models, small and fast"),
    ("q4_k_s", "4.6 bits: slightly smaller and worse than Q4_K_M"),
    ("q5_k_s", "5.5 bits: between Q4_K_M and Q5_K_M"),
    ("q5_0", "5.5 bits, older type: prefer Q5_K_M"),
    ("q5_1", "6 bits, older type: prefer Q5_K_M"),
    ("q4_0", "4.5 bits, older type: prefer Q4_K_M"),
    ("q4_1", "5 bits, older type (the starter model's)"),
    ("q3_k_m", "3.9 bits: small, clearly worse answers"),
    ("q2_k", "3.4 bits: smallest, much worse answers; only for very large models"),
    ("f16", "16 bits: the trained weights unrounded, twice the size of Q8_0"),
    ("bf16", "16 bits, bfloat: like F16, for models trained in bf16"),
    ("f32", "32 bits: full precision, four times Q8_0; only to convert again later"),
)


@dataclass(frozen=True)
class FinishedRun:
    folder: Path
    steps: int
    final_loss: float
    lora: bool
    finished_at: str  # ISO time, UTC
    base: str  # the checkpoint folder it was trained on
    base_source: str  # what that base was named as (an installed model, a GGUF), or ""

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def model_dir(self) -> Path:
        return self.folder / MODEL

    @property
    def label(self) -> str:
        """What every step calls the run: “5 Dec 04:14”, when it started."""
        return run_label(self.name)

    def describe(self) -> str:
        kind = "LoRA" if self.lora else "full fine-tune"
        return f"{self.label} — {kind}, {self.steps} steps, final loss {self.final_loss:.3f}"


def read_run(folder: Path) -> FinishedRun | None:
    """The finished run in ``folder``, or None (running, interrupted, damaged, no model)."""
    try:
        manifest: Any = parse_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("status") != "finished":
        return None
    if not (folder / MODEL).is_dir():
        return None
    arguments = manifest.get("arguments")
    arguments = arguments if isinstance(arguments, dict) else {}
    try:
        steps, loss = int(manifest.get("steps", 0)), float(manifest.get("final_loss", 0.0))
    except (TypeError, ValueError):
        return None
    return FinishedRun(
        folder,
        steps,
        loss,
        bool(arguments.get("lora")),
        str(manifest.get("finished_at", "")),
        str(arguments.get("base", "")),
        str(arguments.get("base_source") or ""),
    )


def finished_runs(project: StudioProject) -> list[FinishedRun]:
    """The project's finished runs, the most recent first (a hidden folder, such as the Train
    step's one-step time measurement, is not a run)."""
    root = project.runs_dir
    folders = sorted(root.iterdir()) if root.is_dir() else []
    runs = [read_run(f) for f in folders if f.is_dir() and not f.name.startswith(".")]
    found = [r for r in runs if r is not None]
    return sorted(found, key=lambda r: (r.finished_at, r.name), reverse=True)


# -- which library model a run became ---------------------------------------------------------


@dataclass(frozen=True)
class Export:
    run: str  # the run folder's name
    model_id: str
    name: str
    quantization: str
    at: str


def exports(project: StudioProject) -> list[Export]:
    """Every export of the project's runs, oldest first (a damaged file reads as none)."""
    try:
        raw: Any = parse_json((project.folder / EXPORTS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    found = []
    for item in raw if isinstance(raw, list) else []:
        try:
            found.append(Export(**{k: str(item[k]) for k in Export.__dataclass_fields__}))
        except (KeyError, TypeError):
            continue
    return found


def remember(project: StudioProject, export: Export) -> None:
    known = [e for e in exports(project) if e.model_id != export.model_id] + [export]
    text = json.dumps([asdict(e) for e in known], indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(project.folder / EXPORTS_FILE, text)


def model_of(project: StudioProject, run: str, library: ModelLibrary) -> Export | None:
    """The library model ``run`` last became, if it is still installed."""
    installed = {entry.id for entry in library.entries()}
    for export in reversed(exports(project)):
        if export.run == run and export.model_id in installed:
            return export
    return None


# -- exporting ----------------------------------------------------------------


EMPTY_NAME_HINT = "Type the name it should have in the list."
TAKEN_NAME_HINT = (
    "Choose another name for this one (step 4, Use), or rename or remove the installed one in "
    "Models → Manage models first."
)


def check_model_name(name: str, library: ModelLibrary) -> str:
    """``name`` with its spaces tidied, if no model of ``library`` is called so (ignoring case);
    else a ModelNameError naming the clash and what to do in this window. The check is
    ``conversion.model_names``', which ``huacaya-train --export-gguf --name`` makes too."""
    installed = (entry.name for entry in library.entries())
    return new_model_name(name, installed, empty_hint=EMPTY_NAME_HINT, taken_hint=TAKEN_NAME_HINT)


def _gguf_source(checkpoint: Path) -> tuple[Path, str] | None:
    """The GGUF a base checkpoint was made from, and its type (Q4_1…), or None."""
    try:
        record: Any = parse_json((checkpoint / GGUF_SOURCE).read_text(encoding="utf-8"))
        return Path(record["gguf"]), str(record.get("quantization", ""))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def suggested_model_name(project: StudioProject, run: FinishedRun, library: ModelLibrary) -> str:
    """The project's name for its model, or with the run's label beside it when a model of that
    name is installed already (another run of the project, added before)."""
    for name in (project.name, f"{project.name} ({run.label})"):
        try:
            return check_model_name(name, library)
        except ModelNameError:
            continue
    return f"{project.name} ({run.name})"


def export_run(
    project: StudioProject,
    run: FinishedRun,
    quantization: str,
    name: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    library: ModelLibrary | None = None,
) -> Export:
    """``run`` converted, quantized, checked and installed as ``name`` (default: the project's
    name); remembered in the project. A LoRA is merged into its base as ``huacaya-train
    --export-gguf`` does, keeping the GGUF base's own bytes when exported back to its type.
    ``library`` (the one the app shows): a name already in it is refused before any work
    (``check_model_name``)."""
    from conversion.quant_merge import is_quantized
    from conversion.train.bases import Base
    from conversion.train.export import EXPORT_TYPES, export_to_library, export_type_for

    if quantization not in EXPORT_TYPES:
        raise StudioError(
            f"Unknown quantization “{quantization}”.", f"Choose one of {', '.join(EXPORT_TYPES)}."
        )
    name = tidy_name(name or project.name)
    if library is not None:
        name = check_model_name(name, library)
    elif not name:
        raise ModelNameError("The model needs a name.", EMPTY_NAME_HINT)
    if not run.model_dir.is_dir():
        raise StudioError(
            f"The run “{run.label}” has no trained model any more.",
            "Choose another run, or train this one again.",
        )
    base: Path | None = None
    keep_from: Path | None = None
    if run.lora:
        base = Path(run.base)
        if not (base / "config.json").is_file():
            raise StudioError(
                f"The base model this LoRA was trained on is gone ({base}).",
                "Train the run again (its base is made again from the installed model).",
            )
        source = _gguf_source(base)
        if source is not None and source[0].is_file():
            gguf, file_type = source
            try:  # back into its GGUF base's own quantization: that file's bytes are kept
                same = quantization == export_type_for(Base("", base, gguf, file_type))
            except TrainingError:
                same = False
            if same and is_quantized(gguf):
                keep_from = gguf
    result = export_to_library(
        run.model_dir, name, quantization, base, progress, cancel, keep_from=keep_from
    )
    export = Export(
        run.name,
        result.model_id,
        result.name,
        quantization,
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    remember(project, export)
    return export
