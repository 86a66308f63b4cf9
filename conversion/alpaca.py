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


DEFAULT_PREAMBLE = PROMPT_NO_INPUT[: PROMPT_NO_INPUT.index("\n\n### Instruction:")]

# The same prompt as a chat template (embedded in converted GGUFs, and what the app renders for
# models without a template). One question gives exactly PROMPT_NO_INPUT; a system message
# replaces the opening sentence; later turns repeat the Instruction/Response blocks. It writes no
# BOS: the tokenizer adds one when the model's metadata asks for it, as LLaMA's does.
CHAT_TEMPLATE = (
    "{% set ns = namespace(preamble='" + DEFAULT_PREAMBLE + "', started=false) %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set ns.preamble = message['content'] %}{% endif %}{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}"
    "{% if not ns.started %}{{ ns.preamble + '\\n\\n' }}{% set ns.started = true %}"
    "{% else %}{{ '\\n\\n' }}{% endif %}"
    "{{ '### Instruction:\\n' + message['content'] + '\\n\\n### Response:' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] }}{% endif %}"
    "{% endfor %}"
)
STOP_STRINGS = ("### Instruction:", "### Input:", "### Response:")
