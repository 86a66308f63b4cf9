"""The Stanford Alpaca prompt templates, exactly as the original release defines them.

One source for the chat engine (models without a chat template), the converter (which embeds
the template in a GGUF) and the training recipe.
"""

from __future__ import annotations

PROMPT_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt for one example: the with-input template when ``input`` is not empty."""
    if input:
        return PROMPT_INPUT.format(instruction=instruction, input=input)
    return PROMPT_NO_INPUT.format(instruction=instruction)
