"""What the user names as a side (or a judge): an answer file, an installed model (or a .gguf
path), or an OpenAI-compatible endpoint (``openai:MODEL`` with a base URL, or the URL itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import EvaluationError
from desktop.core import settings as settings_store
from desktop.core.evaluation.answerers import EndpointAnswerer, LocalAnswerer, api_key_for
from desktop.core.models.library import library_for, resolve_model

ANSWER_SUFFIXES = (".jsonl", ".json")
DEFAULT_BASE_URL = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str


def is_answer_file(spec: str) -> bool:
    path = Path(spec).expanduser()
    return path.suffix.lower() in ANSWER_SUFFIXES and path.is_file()


def endpoint_of(spec: str, base_url: str = "", remote_model: str = "") -> Endpoint | None:
    """The endpoint ``spec`` names, or None when it names a model here.

    ``openai:MODEL`` is MODEL at ``base_url`` (data generation's teacher spelling); a URL is
    that server with ``remote_model`` (default: ``default``, which llama.cpp's server, Ollama's
    single-model setups and our own ``huacaya serve`` accept)."""
    if spec.startswith("openai:"):
        model = spec.removeprefix("openai:").strip()
        if not model:
            raise EvaluationError(f"“{spec}” names no model.", "Write openai:MODEL_ID.")
        return Endpoint((base_url or DEFAULT_BASE_URL).rstrip("/"), model)
    if spec.startswith(("http://", "https://")):
        return Endpoint(spec.rstrip("/"), remote_model or "default")
    return None


def model_path(spec: str) -> Path:
    """An installed model's file (by library name or id), or a .gguf path."""
    settings = settings_store.load()
    return resolve_model(spec, library_for(settings.models_folder), settings.default_model)


def open_answerer(
    spec: str,
    *,
    base_url: str = "",
    remote_model: str = "",
    api_key_env: str = "OPENAI_API_KEY",
    parallel: int = 8,
    context_length: int = 2048,
    threads: int = 0,
) -> LocalAnswerer | EndpointAnswerer:
    """What answers for ``spec``: a model here (loaded when first asked) or an endpoint."""
    endpoint = endpoint_of(spec, base_url, remote_model)
    if endpoint is not None:
        key = api_key_for(endpoint.base_url, api_key_env)
        return EndpointAnswerer(
            endpoint.model, endpoint.base_url, api_key=key, parallel=min(parallel, 8)
        )
    path = model_path(spec)
    if not path.is_file():
        raise EvaluationError(
            f"The model “{spec}” is not installed and no such file exists.",
            "Run `huacaya models list` to see the installed models, or give a .gguf path.",
        )
    settings = settings_store.load()
    return LocalAnswerer(
        path,
        name=_display_name(spec, path),
        parallel=parallel,
        context_length=context_length,
        threads=threads or settings.threads,
        gpu_layers=settings.gpu_layers,
    )


def _display_name(spec: str, path: Path) -> str:
    return path.stem if spec.endswith(".gguf") or "/" in spec or not spec else spec
