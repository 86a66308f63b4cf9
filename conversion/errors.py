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

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Pickled whole (class, message and hint) so an error raised in a job's process reaches
        # the window as the same typed error; subclasses may have other __init__ signatures.
        return (_rebuild, (type(self), self.message, self.hint))


def _rebuild(cls: type[HuacayaError], message: str, hint: str) -> HuacayaError:
    error = cls.__new__(cls)
    HuacayaError.__init__(error, message, hint)
    return error


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


class NotARegularFileError(CheckpointError):
    """A pipe, socket, device or dangling link where a checkpoint file should be."""

    default_hint = (
        "Replace it with the real file (copy or download it again); Huacaya reads only "
        "regular files, so that a pipe or device can never make it wait forever."
    )


class ImplausibleConfigError(CheckpointError):
    """config.json values of the wrong type, out of any real model's range, or contradicted by
    the weights actually present."""

    default_hint = (
        "config.json and the weights do not describe the same model; download config.json "
        "again from the model's repository."
    )


class UnsupportedModelError(ConversionError):
    """An architecture or tokenizer the converter does not handle."""


class PickleCheckpointError(CheckpointError):
    """PyTorch pickle weights (.bin/.pt) that cannot be read: damaged, or not a state dict."""

    default_hint = (
        "Download the file again; if it stays unreadable, look for a safetensors version of "
        "the model on the Hub."
    )


class UnsafePickleError(PickleCheckpointError):
    """A pickle that asks for something a state dict never needs (code, modules, files)."""

    default_hint = (
        "Loading this file elsewhere (torch.load without weights_only) could run code on your "
        "computer. Delete it, and get the model from its original publisher or in safetensors."
    )


class OutputExistsError(ConversionError):
    default_hint = "Choose another output name, or pass --force to replace it."


class TrainingDataError(HuacayaError):
    """Instruction data that cannot be trained on: unreadable, or records that are not Alpaca's."""

    default_hint = (
        'Each record needs "instruction" and "output" (non-empty strings) and optionally '
        '"input" (a string, empty when there is none). Fix the records named and run again.'
    )


class TrainingError(HuacayaError):
    """A training run that cannot start or go on (bad options, missing extra, clash in --out)."""


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
