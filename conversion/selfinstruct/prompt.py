"""The teacher's prompt: our request text, then numbered example tasks in Stanford's layout.

After the text come the sampled seed tasks as numbered blocks separated by ``###``::

    ###
    1. Instruction: Name the capital of the given country.
    1. Input:
    France
    1. Output:
    Paris
    ###
    …
    ###
    4. Instruction:

so that the teacher continues with task 4 and goes on to the last one asked for. An empty input
is written ``<noinput>``. The request text is ours (``prompt.txt`` beside this file);
``--prompt-file`` replaces it, and ``{num_tasks}`` in it becomes the number of tasks asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from conversion.errors import DataGenerationError, NotARegularFileError
from conversion.input_files import read_text
from conversion.selfinstruct.seeds import Task

MAX_PROMPT_BYTES = 1024 * 1024
NO_INPUT = "<noinput>"
SEPARATOR = "###"


def default_prompt_text() -> str:
    return resources.files("conversion.selfinstruct").joinpath("prompt.txt").read_text("utf-8")


def load_prompt_text(path: Path | None) -> str:
    if path is None:
        return default_prompt_text()
    try:
        text = read_text(path, MAX_PROMPT_BYTES)  # a regular file: a pipe would wait forever
    except NotARegularFileError as exc:
        raise DataGenerationError(exc.message, "Give a UTF-8 text file.") from None
    except (OSError, ValueError) as exc:
        raise DataGenerationError(
            f"Cannot read the prompt file “{path}”: {exc}.", "Give a UTF-8 text file."
        ) from None
    if not text.strip():
        raise DataGenerationError(f"The prompt file “{path}” is empty.", "Write the request in it.")
    return text


def encode_prompt(text: str, examples: Sequence[Task], num_tasks: int) -> str:
    """The whole prompt: ``text``, the numbered examples, and the next number's instruction."""
    prompt = text.replace("{num_tasks}", str(num_tasks)).rstrip("\n") + "\n"
    for number, task in enumerate(examples, start=1):
        # As Stanford did: whitespace collapsed and a trailing colon dropped from instructions.
        instruction = re.sub(r"\s+", " ", task.instruction).strip().rstrip(":")
        prompt += (
            f"{SEPARATOR}\n"
            f"{number}. Instruction: {instruction}\n"
            f"{number}. Input:\n{task.input or NO_INPUT}\n"
            f"{number}. Output:\n{task.output}\n"
        )
    return prompt + f"{SEPARATOR}\n{len(examples) + 1}. Instruction:"


def stop_sequences(num_tasks: int) -> list[str]:
    """Where the teacher should stop: at the first block past the last task asked for."""
    return [f"{num_tasks}. Instruction:"]
