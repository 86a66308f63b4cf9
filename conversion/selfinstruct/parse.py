"""Reading the teacher's numbered tasks back, as Stanford's ``post_process_gpt3_response`` did.

The reply continues the prompt's last line (``4. Instruction:``), so that label is put back in
front of it; the text is split on ``###``; each block must hold ``N. Instruction:``,
``N. Input:`` and ``N. Output:`` in that order, where N is the block's position (4, 5, 6, …) —
Stanford's rule, which drops every block after a skipped or repeated number. ``lenient_numbers``
accepts any number as long as a block's three labels agree. When the teacher stopped on its
length limit the last block is dropped: it is likely cut short.

Chat models answer rather than continue, often with a sentence first and the number repeated:
with ``continuation=False`` the reply starts at its first ``N. Instruction:`` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conversion.selfinstruct.prompt import NO_INPUT, SEPARATOR
from conversion.selfinstruct.seeds import Task

LABELS = ("Instruction", "Input", "Output")
_LABEL = re.compile(r"(\d+)\.\s+(Instruction|Input|Output):")


@dataclass
class ParsedReply:
    tasks: list[Task] = field(default_factory=list)
    malformed: int = 0  # blocks without the three numbered labels, or with an empty part
    truncated: int = 0  # the last block, dropped because the teacher hit its length limit


def parse_reply(
    text: str,
    first_number: int,
    hit_length_limit: bool,
    *,
    continuation: bool = True,
    lenient_numbers: bool = False,
) -> ParsedReply:
    """The tasks in one reply to a prompt whose examples end at ``first_number - 1``."""
    head = f"{first_number}. Instruction:"
    if continuation:
        text = head + text
    else:
        start = re.search(rf"(?<!\d){first_number}\.\s+Instruction:", text)
        text = text[start.start() :] if start else head + text
    blocks = text.split(SEPARATOR)
    if blocks and not blocks[-1].strip():
        blocks.pop()  # the teacher ended on a separator: nothing was cut off
    elif hit_length_limit and blocks:
        blocks.pop()
        parsed = ParsedReply(truncated=1)
        return _parse_blocks(blocks, first_number, lenient_numbers, parsed)
    return _parse_blocks(blocks, first_number, lenient_numbers, ParsedReply())


def _parse_blocks(
    blocks: list[str], first_number: int, lenient_numbers: bool, parsed: ParsedReply
) -> ParsedReply:
    for position, block in enumerate(blocks):
        if not block.strip():
            continue
        task = parse_block(block, None if lenient_numbers else first_number + position)
        if task is None:
            parsed.malformed += 1
        else:
            parsed.tasks.append(task)
    return parsed


def parse_block(block: str, number: int | None) -> Task | None:
    """One ``N. Instruction / N. Input / N. Output`` block; None when it is not one.

    ``number`` is the N it must carry; None accepts any N shared by the three labels. Text
    before the instruction is ignored, as Stanford did; an empty instruction or output is not
    a task (Stanford kept empty outputs).
    """
    labels = list(_LABEL.finditer(block))
    if [m.group(2) for m in labels] != list(LABELS):
        return None
    numbers = {int(m.group(1)) for m in labels}
    if len(numbers) != 1 or (number is not None and numbers != {number}):
        return None
    instruction = block[labels[0].end() : labels[1].start()].strip()
    input_text = block[labels[1].end() : labels[2].start()].strip()
    output = block[labels[2].end() :].strip()
    if input_text.lower() == NO_INPUT:
        input_text = ""
    if not instruction or not output:
        return None
    return Task(instruction, input_text, output)
