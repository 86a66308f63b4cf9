"""Rerankers from the Hub, chosen like embedding models: a cross-encoder repository
(``cross-encoder/ms-marco-MiniLM-L-6-v2``) is downloaded (resumable), converted once by our
converter (conversion/archs/bert.py) and described in ``reranker.json`` beside its GGUF, in
``models/rerankers/hub/`` of the library. Which one document search uses (if any) is kept in
the documents index (``DocumentStore.option("reranker")``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conversion.convert import convert
from conversion.errors import ConversionError, DocumentError
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.weight_files import is_pickle_weights
from desktop.core import paths
from desktop.core.jobs import locks
from desktop.core.models.embedding_model import check_model_name, installed_hub_models

if TYPE_CHECKING:
    from desktop.core.hub.client import HubClient

DESCRIPTION = "reranker.json"
CROSS_ENCODERS = ("BertForSequenceClassification",)
HINT = (
    "Choose a BERT cross-encoder with one output, e.g. cross-encoder/ms-marco-MiniLM-L-6-v2 "
    "or cross-encoder/ms-marco-MiniLM-L-12-v2."
)


@dataclass(frozen=True)
class RerankerModel:
    name: str  # the Hub repository id
    path: Path  # the GGUF


def _folder(repo_id: str, root: Path | None = None) -> Path:
    base = root or paths.models_dir() / "rerankers"
    return base / "hub" / repo_id.replace("/", "--")


def installed_rerankers(root: Path | None = None) -> list[str]:
    return installed_hub_models((root or paths.models_dir() / "rerankers") / "hub", DESCRIPTION)


def installed_reranker(repo_id: str, root: Path | None = None) -> RerankerModel | None:
    folder = _folder(repo_id, root)
    try:
        fields = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
        model = RerankerModel(str(fields["name"]), folder / str(fields["path"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return model if model.path.is_file() else None


def install_hub_reranker(
    repo_id: str,
    hub: HubClient,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    root: Path | None = None,
) -> RerankerModel:
    """Download a cross-encoder repository and convert it (f16: the score of a pair moves by
    less than 0.01 against f32). A repository that is not a cross-encoder is refused before
    its weights are fetched; nothing is kept of one that cannot be used."""
    repo_id = check_model_name(repo_id)
    folder = _folder(repo_id, root)
    with locks.hold(f"reranker:{folder}", f"installing the reranker {repo_id}"):
        installed = installed_reranker(repo_id, root)
        if installed is not None:
            return installed
        info = hub.repo_info(repo_id, cancel=cancel)
        wanted = hub.files_to_fetch(info)
        weights = [f for f in wanted if _is_weights(f.name)]
        checkpoint = folder / "checkpoint"
        try:
            hub.download(info, [f for f in wanted if f not in weights], checkpoint, cancel=cancel)
            _refuse_others(repo_id, checkpoint)
            step = lambda f, m="": progress(0.9 * f, f"Downloading {repo_id}: {m}")  # noqa: E731
            hub.download(info, weights, checkpoint, step, cancel)
            target = folder / "model-f16.gguf"
            step = lambda f, m="": progress(0.9 + 0.1 * f, f"Converting {repo_id}: {m}")  # noqa: E731
            convert(checkpoint, target, "f16", step, cancel)
        except (ConversionError, DocumentError, KeyError, TypeError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)
            raise
        fields = {"name": repo_id, "path": target.name, "revision": info.revision}
        atomic_write_text(folder / DESCRIPTION, json.dumps(fields, indent=2))
        shutil.rmtree(checkpoint, ignore_errors=True)
        return RerankerModel(repo_id, target)


def remove_reranker(repo_id: str, root: Path | None = None) -> None:
    folder = _folder(check_model_name(repo_id), root)
    if not folder.is_dir():
        raise DocumentError(f"The reranker “{repo_id}” is not installed.")
    with locks.hold(f"reranker:{folder}", f"removing the reranker {repo_id}"):
        shutil.rmtree(folder)


def _is_weights(name: str) -> bool:
    return name.endswith(".safetensors") or is_pickle_weights(Path(name))


def _refuse_others(repo_id: str, checkpoint: Path) -> None:
    try:
        config = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
        name = str((config.get("architectures") or [""])[0])
    except (OSError, ValueError, AttributeError, IndexError) as exc:
        raise DocumentError(f"“{repo_id}” has no readable config.json.", HINT) from exc
    if name not in CROSS_ENCODERS:
        raise DocumentError(f"“{repo_id}” is a {name or 'model'} model, not a reranker.", HINT)
