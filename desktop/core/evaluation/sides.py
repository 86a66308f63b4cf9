"""What the user names as a side (or a judge): an answer file, a published answer file by its
name (``text-davinci-003``: downloaded once, see ``published.py``), an installed model (or a
.gguf path), or an OpenAI-compatible endpoint (``openai:MODEL`` with a base URL, or the URL).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.errors import EvaluationError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core import settings as settings_store
from desktop.core.evaluation.answer_files import AnswerSet, load_answer_set
from desktop.core.evaluation.answerers import (
    AnswerSettings,
    EndpointAnswerer,
    LocalAnswerer,
    api_key_for,
)
from desktop.core.evaluation.answering import AnswerRun
from desktop.core.evaluation.items import EvalItem
from desktop.core.evaluation.published import fetch, published
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


def check_sides(specs: list[str], have_items: bool, base_url: str = "") -> None:
    """Refuse, before anything is answered, sides that cannot be: an answer file that does not
    exist, a file that is neither answers nor a model, a model that is not installed, the same
    side twice, or a model side with no instruction set to answer."""
    if len(specs) == 2 and specs[0] == specs[1]:
        raise EvaluationError(
            f"Both sides are “{specs[0]}”: a comparison needs two different sides.",
            "Give two different models or answer files.",
        )
    for spec in specs:
        path = Path(spec).expanduser()
        if (
            is_answer_file(spec)
            or published(spec, "answers") is not None
            or endpoint_of(spec, base_url) is not None
        ):
            continue
        if path.suffix.lower() in ANSWER_SUFFIXES:
            where = "is a folder, not an answer file" if path.is_dir() else "does not exist"
            raise EvaluationError(
                f"The answer file “{spec}” {where}.",
                "Check the path, or answer first with `huacaya eval answer`.",
            )
        if path.is_file() and path.suffix.lower() != ".gguf":
            raise EvaluationError(
                f"“{spec}” is neither an answer file (.jsonl or .json) nor a model (.gguf).",
                "Give an installed model's name, a .gguf file, or an answer file.",
            )
        if not model_path(spec).is_file():
            raise EvaluationError(
                f"The model “{spec}” is not installed and no such file exists.",
                "Run `huacaya models list` to see the installed models, or give a .gguf path.",
            )
        if not have_items:
            raise EvaluationError(
                f"“{spec}” is a model, not an answer file: it needs an instruction set to answer.",
                "Pass --prompts FILE, or answer first with `huacaya eval answer`.",
            )


def answers_folder() -> Path:
    """Where the answers of a side named by its model (not a file) are kept."""
    return paths.data_dir() / "evaluation" / "answer-sets"


def default_session(first: str, second: str, items: list[EvalItem] | None = None) -> Path:
    """Where the vote session of sides ``first`` and ``second`` is kept (so the same sides
    resume the same session). With ``items``, the instruction set is part of the name, so
    another set over the same sides is another session rather than a refused one."""
    slug = "-vs-".join(
        "".join(c if c.isalnum() or c in "._-" else "-" for c in n)[:40] for n in (first, second)
    )
    if items is not None:
        slug += "-" + hashlib.sha256("\n".join(i.key for i in items).encode()).hexdigest()[:8]
    return answers_folder().parent / "votes" / f"{slug}.jsonl"


def answer_set_for(
    spec: str,
    items: list[EvalItem] | None,
    *,
    prompts_name: str = "",
    settings: AnswerSettings | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    **answerer_options: Any,
) -> AnswerSet:
    """The answers of a side: read from an answer file (a published one downloaded first, once),
    or made by a model (or endpoint) over ``items`` — cached, so a side answered before comes
    back at once."""
    if is_answer_file(spec):
        return load_answer_set(Path(spec).expanduser())
    reference = published(spec, "answers")
    if reference is not None:
        return load_answer_set(fetch(reference, progress, cancel), name=reference.name)
    if items is None:
        raise EvaluationError(
            f"“{spec}” is a model, not an answer file: it needs an instruction set to answer.",
            "Pass --prompts FILE, or answer first with `huacaya eval answer`.",
        )
    answerer = open_answerer(spec, **answerer_options)
    try:
        digest = hashlib.sha256(
            json.dumps([answerer.fingerprint, [i.key for i in items]]).encode()
        ).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", answerer.name).strip("-")[:60] or "model"
        out = answers_folder() / f"{slug}-{digest}.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        run = AnswerRun(answerer, items, out, settings, prompts_name=prompts_name, force=True)
        run.run(progress, cancel)
    finally:
        answerer.close()
    answers = load_answer_set(out)
    answers.name = answerer.name
    return answers
