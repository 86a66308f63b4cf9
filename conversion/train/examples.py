"""Stanford Alpaca's supervised examples: prompt + response + EOS, loss only on the response.

Exactly as ``train.py`` of the Stanford release builds them: the source (the prompt, Stanford's
template with or without input) and the full example (source + output + the tokenizer's EOS
text) are tokenized separately, each truncated at ``max_length``; labels copy the full example's
ids with the first ``len(source)`` positions set to -100. Prompts come from
:mod:`conversion.alpaca`, the one place the templates are written.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversion.alpaca import format_prompt
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.train.data import Record

IGNORE_INDEX = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        """Tokens that carry loss (the response and its EOS)."""
        return sum(label != IGNORE_INDEX for label in self.labels)


def source_and_target(record: Record, eos_text: str) -> tuple[str, str]:
    return format_prompt(record.instruction, record.input), f"{record.output}{eos_text}"


def build_example(record: Record, tokenizer, max_length: int) -> Example:
    source, target = source_and_target(record, tokenizer.eos_token)
    full = tokenizer(source + target, truncation=True, max_length=max_length)["input_ids"]
    source_ids = tokenizer(source, truncation=True, max_length=max_length)["input_ids"]
    source_length = min(len(source_ids), len(full))
    labels = [IGNORE_INDEX] * source_length + list(full[source_length:])
    return Example(list(full), labels)


def build_examples(
    records: list[Record],
    tokenizer,
    max_length: int,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> list[Example]:
    examples = []
    for index, record in enumerate(records):
        if index % 256 == 0:
            cancel.check()
            progress(index / len(records), f"tokenizing {index:,}/{len(records):,} examples")
        examples.append(build_example(record, tokenizer, max_length))
    progress(1.0, f"tokenized {len(records):,} examples")
    return examples
