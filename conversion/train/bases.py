"""What ``huacaya-train --base`` names, as a checkpoint folder transformers loads without the Hub.

``--base`` may be

- a Hugging Face checkpoint folder (``config.json`` and weights);
- a GGUF file, or the name of a model in the app's library (what ``huacaya chat --model`` and
  ``--teacher gguf:`` take): made into a checkpoint once (``gguf_base``) and reused;
- a Hub model id: downloaded once into the Hub's cache; with ``HF_HUB_OFFLINE`` set, only what
  that cache already holds, and no request is sent.

Everything is decided here, before transformers sees the name: transformers would take an
unknown name for a Hub id and retry the Hub for a minute before a raw error. A name that is
none of these fails at once, saying what to give instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import HuacayaError, ModelNotFoundError, TrainingError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

GGUF_MAGIC = b"GGUF"
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.jinja", "tokenizer*", "*.txt"]
WHAT_TO_GIVE = (
    "Give a Hugging Face checkpoint folder (config.json, weights, tokenizer), a .gguf file, the "
    "name of an installed model (huacaya models list) or a Hub model id (owner/name)."
)

ModelResolver = Callable[[str], Path]  # a library name → its GGUF file


@dataclass(frozen=True)
class Base:
    """A base model ready for transformers: ``checkpoint`` is a local folder."""

    given: str  # what the user typed
    checkpoint: Path
    gguf: Path | None = None  # the GGUF it was made from, if any
    quantization: str = ""  # that GGUF's file type (Q4_1, Q4_K_M, F16…)


def offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def is_gguf_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == GGUF_MAGIC
    except OSError:
        return False


def resolve_base(
    given: str,
    gguf_cache: Path,
    resolve_model: ModelResolver | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Base:
    """The checkpoint folder for ``given``; GGUF checkpoints are made in ``gguf_cache``."""
    text = given.strip()
    if not text:
        raise TrainingError("--base is empty.", WHAT_TO_GIVE)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainingError(
                f"The folder “{path}” is not a checkpoint: it has no config.json.", WHAT_TO_GIVE
            )
        return Base(given, path)
    if path.is_file():
        if not is_gguf_file(path):
            raise TrainingError(
                f"“{path}” is neither a GGUF file nor a checkpoint folder.", WHAT_TO_GIVE
            )
        return _from_gguf(given, path, gguf_cache, progress, cancel)
    if path.suffix.lower() == ".gguf" or text.startswith((".", "~", os.sep)):
        raise TrainingError(f"“{path}” does not exist.", WHAT_TO_GIVE)
    if resolve_model is not None:
        try:
            model = resolve_model(text)
        except ModelNotFoundError:
            model = None
        except HuacayaError as exc:
            raise TrainingError(
                f"The installed model “{text}” cannot be used: {exc.message}", exc.hint
            ) from exc
        if model is not None:
            if not Path(model).is_file():
                raise TrainingError(
                    f"The installed model “{text}” points at {model}, which is gone.",
                    "Remove it from the library (huacaya models remove) and add it again.",
                )
            return _from_gguf(given, Path(model), gguf_cache, progress, cancel)
    return Base(given, _from_hub(text, progress))


def _from_gguf(
    given: str, path: Path, cache: Path, progress: Progress, cancel: CancelToken
) -> Base:
    from conversion.train.gguf_base import checkpoint_from_gguf  # torch: only when needed

    made = checkpoint_from_gguf(path, cache, progress, cancel)
    return Base(given, made.checkpoint, made.gguf, made.quantization)


def _from_hub(repo_id: str, progress: Progress) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(repo_id)
    except HFValidationError:
        raise TrainingError(
            f"“{repo_id}” is not a folder, a file, an installed model or a Hub model id.",
            WHAT_TO_GIVE,
        ) from None
    progress(
        0.0,
        f"fetching {repo_id} from the Hub"
        if not offline()
        else f"looking for {repo_id} in the Hub's cache",
    )
    try:
        folder = snapshot_download(repo_id, allow_patterns=HUB_PATTERNS, local_files_only=offline())
    except LocalEntryNotFoundError as exc:
        if offline():
            raise TrainingError(
                f"“{repo_id}” is not a folder, a file or an installed model, nor a Hub model "
                "already on this computer (HF_HUB_OFFLINE is set, so the Hub was not asked).",
                WHAT_TO_GIVE,
            ) from exc
        raise TrainingError(
            f"“{repo_id}” is not a folder, a file or an installed model, and the Hugging Face "
            "Hub cannot be reached to look for it.",
            WHAT_TO_GIVE,
        ) from exc
    except RepositoryNotFoundError as exc:
        raise TrainingError(
            f"“{repo_id}” is not a folder, a file, an installed model, nor a model on the Hub "
            "(or the Hub says it is private).",
            WHAT_TO_GIVE,
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise TrainingError(
            f"Could not fetch “{repo_id}” from the Hub: {exc}", WHAT_TO_GIVE
        ) from exc
    folder_path = Path(folder)
    if not (folder_path / "config.json").is_file():
        raise TrainingError(
            f"The Hub repository “{repo_id}” has no config.json: it is not a checkpoint "
            "transformers can train.",
            WHAT_TO_GIVE,
        )
    progress(1.0, f"{repo_id} is here")
    return folder_path
