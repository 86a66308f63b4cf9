"""The root of Huacaya's error hierarchy, and the conversion errors.

It lives here, in the lowest layer, because ``conversion`` may not import ``desktop``;
``desktop.core.errors`` re-exports it, so the app has one hierarchy shown by one dialog.
Every error carries a ``message`` (what went wrong, naming the thing) and a ``hint`` (what to do).
"""

from __future__ import annotations


class HuacayaError(Exception):
    """Base class of errors shown to the user."""

    default_hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class Cancelled(HuacayaError):
    """The user asked a long operation to stop."""

    def __init__(self, message: str = "Cancelled.", hint: str | None = "") -> None:
        super().__init__(message, hint)


class ModelFileError(HuacayaError):
    """A model file is missing, unreadable, truncated or not a GGUF file."""

    default_hint = "Choose a complete .gguf model file (download or convert it again if needed)."


class ConversionError(HuacayaError):
    """A checkpoint could not be converted or quantized."""


class CheckpointError(ConversionError):
    """The checkpoint folder is incomplete, damaged or inconsistent."""

    default_hint = "Download the checkpoint again, or check that every file of it was copied."


class UnsupportedModelError(ConversionError):
    """An architecture or tokenizer the converter does not handle."""


class PickleCheckpointError(ConversionError):
    """Only pickle (.bin/.pt) weights: refused, since loading pickle can run arbitrary code."""

    default_hint = (
        "Pickle files can run code when loaded, so Huacaya does not open them. Convert them to "
        "safetensors on a machine where you trust the file, e.g. with transformers: "
        "AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True), "
        "or pick a safetensors version of the model on the Hub."
    )


class OutputExistsError(ConversionError):
    default_hint = "Choose another output name, or pass --force to replace it."


class DataGenerationError(HuacayaError):
    """Self-instruct data generation (``huacaya-generate-data``) cannot go on."""


class SeedTasksError(DataGenerationError):
    default_hint = (
        'Seed tasks are JSON Lines: one object per line with an "instruction" and either '
        '"instances": [{"input": …, "output": …}] (Stanford\'s seed_tasks.jsonl) or '
        '"input" and "output".'
    )


class TeacherError(DataGenerationError):
    """The teacher model failed, refused, or answered something unusable."""


class TeacherUnreachableError(TeacherError):
    default_hint = (
        "Check that the server is running and that --base-url is right (OpenAI-compatible "
        "servers usually end in /v1). Everything generated so far is kept: run the same "
        "command again to continue."
    )


class TeacherReplyError(TeacherError):
    """The teacher answers, but not in a form the pipeline can use."""

    default_hint = (
        "Everything generated so far is kept. Try a stronger model, --api chat for a chat-only "
        "server, a lower --temperature, or --prompt-file with clearer instructions."
    )


class GenerationStateError(DataGenerationError):
    """The output file or its journal does not belong to this command."""
