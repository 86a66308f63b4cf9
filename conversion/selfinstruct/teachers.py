"""Teachers: the models that write new tasks. ``--teacher gguf:…`` or ``--teacher openai:…``.

A teacher turns a batch of prompts into replies (text and why it stopped), each prompt with
its own sampling seed so that the same request gets the same reply where the model allows it
(a GGUF model on the same machine; servers that honour ``seed``). ``continuation`` says whether
a reply continues the prompt (completion APIs, as Stanford used) or answers it (chat APIs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from conversion.errors import DataGenerationError
from conversion.progress import CancelToken

APIS = ("completions", "chat")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 3072  # Stanford's; a request is shortened to fit a local model's context
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str  # "stop", "length" (hit max_tokens or the context), …

    @property
    def hit_length_limit(self) -> bool:
        return self.finish_reason == "length"


Activity = Callable[[str], None]  # a short line about what the teacher is doing now


class Teacher(Protocol):
    identity: str  # what the journal records: "gguf:FILE.gguf", "openai:MODEL"
    continuation: bool

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
    ) -> list[Reply]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TeacherSpec:
    kind: str  # "gguf" or "openai"
    name: str  # a path or library name (gguf), a model id (openai)


def parse_teacher_spec(spec: str) -> TeacherSpec:
    kind, sep, name = spec.partition(":")
    if not sep or kind not in ("gguf", "openai") or not name.strip():
        raise DataGenerationError(
            f"“{spec}” is not a teacher.",
            "Use --teacher gguf:PATH_OR_LIBRARY_NAME for a model on this machine, or "
            "--teacher openai:MODEL --base-url URL for an OpenAI-compatible server.",
        )
    return TeacherSpec(kind, name.strip())


ModelResolver = Callable[[str], Path]


def resolve_path_only(name: str) -> Path:
    """The resolver without the app's model library: ``name`` must be a .gguf file."""
    path = Path(name).expanduser()
    if not path.is_file():
        raise DataGenerationError(
            f"“{name}” is not a GGUF file.",
            "Give the path to a .gguf file; model library names work when the command is run "
            "as installed (huacaya-generate-data), which knows the library.",
        )
    return path
