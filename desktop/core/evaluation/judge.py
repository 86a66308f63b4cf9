"""The automatic judge's side of a comparison: our pairwise prompt and reading its verdict.

The judge is any answerer (a GGUF model here, or an OpenAI-compatible endpoint): it answers the
judging prompt like any instruction, so its verdicts are cached, resumable and batched exactly
as answers are (see ``judging.py``). The prompt asks for one letter; the verdict is the first
``A`` or ``B`` standing alone in the reply (anything else is no verdict, which counts as a tie).
"""

from __future__ import annotations

import re

from desktop.core.evaluation.answerers import AnswerSettings
from desktop.core.evaluation.items import EvalItem

MAX_ANSWER_CHARS = 6000  # an answer longer than this is cut in the prompt (and said so)

# Our own wording. Judges are told what matters (following the instruction, being correct,
# helpful and clear) and, because judges favour long answers, that length is no merit by itself.
JUDGE_PROMPT = """You are judging two answers to the same request. Decide which answer serves \
the person who asked better: it follows the instruction, is correct, helpful and clear. A longer \
answer is not better for being longer, and the order in which the answers appear says nothing \
about their quality.

[Request]
{request}

[Answer A]
{answer_a}

[Answer B]
{answer_b}

Which answer is better? Reply with a single letter: A or B."""

JUDGE_SETTINGS = AnswerSettings(max_tokens=8, top_k=1)  # greedy, a letter or two


def judge_prompt(item: EvalItem, answer_a: str, answer_b: str) -> str:
    return JUDGE_PROMPT.format(
        request=item.question,
        answer_a=_clip(answer_a) or "(no answer)",
        answer_b=_clip(answer_b) or "(no answer)",
    )


def _clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    return text[:MAX_ANSWER_CHARS] + " […the rest of this answer is left out]"


_LETTER = re.compile(r"(?<![A-Za-z])([AB])(?![A-Za-z])")


def read_verdict(reply: str) -> str | None:
    """``A``, ``B`` or None (no verdict) from the judge's reply."""
    match = _LETTER.search(reply.replace("Answer A", "A").replace("Answer B", "B"))
    return match.group(1) if match else None
