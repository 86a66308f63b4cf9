"""Scoring the teacher's answers, so the worst records can be dropped in one action.

- A GGUF teacher: its own mean log-probability per token of the record's output, after the
  record's instruction and input rendered as it is asked (its chat template, or Stanford's
  Alpaca prompt for a model without one) — ``conversion/decoding/scoring.py``, several records
  per llama.cpp step. Scores are ≤ 0 nats; closer to 0 is better.
- An OpenAI-compatible endpoint: the same measure from the completions API's prompt log-probs
  (``echo``, ``logprobs=1``, ``max_tokens=0``, as llama.cpp's server and vLLM give them) over
  the Alpaca prompt followed by the output. A server that cannot is asked instead to rate each
  answer from 1 to 10 (a judge); a rating that is not just a number leaves the record unscored.

:func:`score_records` returns the records with ``score`` set, as a :class:`ScoredRecords` (a
list) that says which method was used.
"""

from __future__ import annotations

from dataclasses import replace

from conversion.alpaca import format_prompt
from conversion.errors import ModelFileError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.studio.endpoint_scoring import score_with_endpoint
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.scores import ScoredRecords, user_message
from desktop.core.studio.teacher import TeacherChoice, choose_teacher


def score_records(
    records: list[StudioRecord],
    teacher: str,
    *,
    base_url: str = "",
    api_key: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    background: bool = False,
    threads: int | None = None,
) -> list[StudioRecord]:
    """``records`` with ``score`` set by ``teacher`` (higher = better); see the module.
    A GGUF teacher scores on ``threads`` CPU threads (by default the cores idle now), at a
    lower CPU priority with ``background`` (in the window, whose chat shares the computer)."""
    choice = choose_teacher(teacher, base_url, api_key)
    if not records:
        return ScoredRecords([], "logprob" if choice.local else "judge")
    if choice.path is not None:
        return _score_gguf(records, choice, progress, cancel, background, threads)
    return score_with_endpoint(records, choice, progress, cancel)


def _score_gguf(
    records: list[StudioRecord],
    choice: TeacherChoice,
    progress: Progress,
    cancel: CancelToken,
    background: bool,
    threads: int | None,
) -> ScoredRecords:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from conversion.decoding.model import GgufModel
    from conversion.decoding.scoring import TokenScorer
    from conversion.gguf_file import read_gguf_info

    assert choice.path is not None
    info = read_gguf_info(choice.path)
    progress(0.0, f"scoring with {choice.path.name}: loading it")
    model = GgufModel.load(choice.path, error=ModelFileError)
    try:
        chat = (
            Jinja2ChatFormatter(
                info.chat_template,
                eos_token=model.token_text(model.eos),
                bos_token=model.token_text(model.bos),
            )
            if info.chat_template
            else None
        )
        pairs = []
        for record in records:
            if chat is not None:
                rendered = chat(messages=[{"role": "user", "content": user_message(record)}])
                prompt = model.tokenize(
                    rendered.prompt, add_special=not rendered.added_special, special=True
                )
            else:
                prompt = model.tokenize(format_prompt(record.instruction, record.input))
            answer = model.tokenize(record.output, add_special=False, special=False)
            pairs.append((prompt, answer))
        done = 0

        def scored(index: int, score: float | None) -> None:
            nonlocal done
            done += 1
            progress(done / len(records), f"scored {done}/{len(records)} records (log-probability)")

        with TokenScorer(model, sequences=8, threads=threads, background=background) as scorer:
            count = scorer.threads.threads
            cores = f"{count} CPU thread{'s' * (count != 1)} ({scorer.threads.reason})"
            progress(0.0, f"scoring with {choice.path.name} on {cores}")
            scores = scorer.mean_logprobs(pairs, cancel, scored)
    finally:
        model.close()
    return ScoredRecords(
        [replace(r, score=s) for r, s in zip(records, scores, strict=True)],
        "logprob",
        f"mean log-probability per token by {choice.path.name}, on {cores}",
    )
