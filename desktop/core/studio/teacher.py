"""The Data step's teacher: a ``--teacher`` spec (as ``huacaya-generate-data`` takes it) →
a model file from the app's library, or an OpenAI-compatible endpoint and its key.

``gguf:NAME_OR_PATH`` is resolved through the library exactly as the command resolves it;
``openai:MODEL`` needs a base URL, and takes its key from the caller, else ``OPENAI_API_KEY``,
else the keychain entry stored for that URL (``huacaya-generate-data --store-key``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conversion.errors import (
    DataGenerationError,
    ModelNotFoundError,
    TeacherError,
    TeacherReplyError,
    TeacherUnreachableError,
)
from conversion.selfinstruct.teachers import Teacher, parse_teacher_spec
from desktop.core import secrets
from desktop.core import settings as settings_store
from desktop.core.models.library import library_for, resolve_model


@dataclass(frozen=True)
class TeacherChoice:
    """A teacher spec, resolved: a GGUF file (``path``) or an endpoint (``model``, ``base_url``,
    ``api_key``)."""

    spec: str
    path: Path | None = None
    model: str = ""
    base_url: str = ""
    api_key: str = ""

    @property
    def local(self) -> bool:
        return self.path is not None


def choose_teacher(spec: str, base_url: str = "", api_key: str = "") -> TeacherChoice:
    """``spec`` checked and resolved; a clear error (with what to do) when it names nothing."""
    parsed = parse_teacher_spec(spec)
    if parsed.kind == "gguf":
        settings = settings_store.load()
        try:
            path = resolve_model(parsed.name, library_for(settings.models_folder))
        except ModelNotFoundError as exc:
            raise DataGenerationError(
                f"The teacher “{parsed.name}” is not an installed model: {exc.message}",
                "Choose a model from Models → Installed, or give the path to a .gguf file.",
            ) from None
        if not path.is_file():
            raise DataGenerationError(
                f"The teacher file “{path}” does not exist.",
                "Choose a model from Models → Installed, or give the path to a .gguf file.",
            )
        return TeacherChoice(spec, path=path)
    if not base_url.strip():
        raise DataGenerationError(
            f"The teacher {spec} needs the address of its server.",
            "Give the OpenAI-compatible server's base URL, e.g. http://localhost:8000/v1.",
        )
    from conversion.selfinstruct.openai_teacher import check_base_url

    base_url = check_base_url(base_url)  # a bad port or bracket said before any work
    key = api_key or os.environ.get("OPENAI_API_KEY", "") or secrets.ApiKeys().get(base_url) or ""
    return TeacherChoice(spec, model=parsed.name, base_url=base_url, api_key=key)


def open_teacher(
    choice: TeacherChoice, *, parallel: int = 8, context: int = 2048, background: bool = False
) -> Teacher:
    """Data generation's teacher for ``choice``, asked as a chat (the reply answers the prompt):
    a GGUF model decoding ``parallel`` prompts together, or the endpoint's chat completions.
    ``background``: a GGUF teacher decodes at a lower CPU priority (in the window, whose chat
    keeps its pace)."""
    if choice.path is not None:
        from conversion.selfinstruct.gguf_teacher import GgufTeacher  # llama.cpp: loaded late

        return GgufTeacher(
            choice.path,
            api="chat",
            context_length=context,
            parallel=parallel,
            background=background,
        )
    from conversion.selfinstruct.openai_teacher import OpenAITeacher

    return OpenAITeacher(choice.model, choice.base_url, api_key=choice.api_key or None, api="chat")


def in_the_window(exc: BaseException) -> BaseException:
    """A teacher's error as the Data step says it. The data commands' hints name their options
    (--base-url, --store-key, "run the same command"); in the window, its fields and buttons."""
    if not isinstance(exc, TeacherError):
        return exc
    if isinstance(exc, TeacherUnreachableError):
        hint = (
            "Check that the server is running and that the Server URL in the Teacher tab is "
            "right (OpenAI-compatible servers usually end in /v1), or try again later. What "
            "was finished is kept."
        )
    elif isinstance(exc, TeacherReplyError):
        hint = (
            "What was finished is kept. Try a larger teacher model, or a model on a server "
            "(Teacher tab)."
        )
    elif exc.status in (401, 403):
        hint = (
            "Type the server's API key in the Teacher tab (it is kept in the keychain), or set "
            "OPENAI_API_KEY."
        )
    elif exc.status == 404:
        hint = "Check the model's name on that server, and its Server URL (usually ending in /v1)."
    else:
        return exc
    error = type(exc)(exc.message, hint)
    error.status = exc.status
    return error
