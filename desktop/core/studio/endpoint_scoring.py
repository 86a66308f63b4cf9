"""Scoring records with an OpenAI-compatible endpoint: prompt log-probabilities where the server
gives them (``/completions`` with ``echo``, ``logprobs=1``, ``max_tokens=0``), else a judge.

Each record is sent as Stanford's Alpaca prompt followed by its output (the endpoint's own chat
template is not reachable through the completions API); the score is the mean log-probability
of the tokens from where the output starts. The first record probes the server: an error
answer, or a body without per-token log-probabilities, means it cannot, and every record goes
to the judge instead (:func:`judge`), with the reason in the result's ``note``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import httpx

from conversion.alpaca import format_prompt
from conversion.errors import TeacherError, TeacherUnreachableError
from conversion.progress import CancelToken, Progress
from conversion.selfinstruct.teachers import Sampling
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.scores import ScoredRecords
from desktop.core.studio.teacher import TeacherChoice, open_teacher

JUDGE_BATCH = 8
JUDGE_SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_tokens=8)
JUDGE_PROMPT = """Rate how well the answer below carries out the instruction: correct, \
complete, clear and to the point. Reply with one whole number from 1 (useless) to 10 (perfect) \
and nothing else.

Instruction: {instruction}{input}

Answer: {output}

Rating (1-10):"""
_RATING = re.compile(r"\s*(?:rating\s*:?\s*)?(10|[1-9])\s*(?:/\s*10)?\s*\.?\s*", re.I)


class NoLogprobs(Exception):
    """The server does not give prompt log-probabilities (internal: leads to the judge)."""


def score_with_endpoint(
    records: list[StudioRecord], choice: TeacherChoice, progress: Progress, cancel: CancelToken
) -> ScoredRecords:
    headers = {"Authorization": f"Bearer {choice.api_key}"} if choice.api_key else {}
    client = httpx.Client(
        base_url=choice.base_url.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(120.0, connect=15.0),
    )
    scored: list[StudioRecord] = []
    probed = False  # has the server given log-probabilities once?
    try:
        for record in records:
            cancel.check()
            score = None
            if record.output.strip():
                try:
                    score = _prompt_logprob(client, choice, record)
                    probed = True
                except NoLogprobs as exc:
                    if not probed:
                        note = (
                            f"the server gave no prompt log-probabilities ({exc}); a judge "
                            "rated the answers"
                        )
                        progress(0.0, f"scoring: {note}")
                        return judge(records, choice, note, progress, cancel)
                    # It gave them for earlier records: this one stays unscored.
            scored.append(replace(record, score=score))
            progress(
                len(scored) / len(records),
                f"scored {len(scored)}/{len(records)} records (log-probability)",
            )
    finally:
        client.close()
    return ScoredRecords(scored, "logprob", f"prompt log-probabilities from {choice.model}")


def _prompt_logprob(client: httpx.Client, choice: TeacherChoice, record: StudioRecord) -> float:
    prompt = format_prompt(record.instruction, record.input) + "\n"
    payload = {
        "model": choice.model,
        "prompt": prompt + record.output,
        "echo": True,
        "logprobs": 1,
        "max_tokens": 0,
        "temperature": 0.0,
    }
    response = _post(client, choice, payload)
    if response.status_code in (400, 422):
        # Some servers want at least one new token: ask for one, and leave it out below.
        response = _post(client, choice, {**payload, "max_tokens": 1})
    if response.status_code >= 400:
        raise NoLogprobs(f"HTTP {response.status_code}")
    try:
        logprobs = response.json()["choices"][0]["logprobs"]
        tokens, values = logprobs["tokens"], logprobs["token_logprobs"]
        offsets = logprobs.get("text_offset")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError):
        raise NoLogprobs("no log-probabilities in its answer") from None
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
        raise NoLogprobs("no log-probabilities in its answer")
    if not (isinstance(offsets, list) and len(offsets) == len(tokens)):
        offsets, end = [], 0  # where each token starts, from the tokens' own text
        for token in tokens:
            offsets.append(end)
            end += len(str(token))
    # The output's tokens: those ending after the prompt's text and starting before the echo's
    # end (a token the server generated anyway comes after it).
    full, found = len(prompt) + len(record.output), []
    ends = [*offsets[1:], full]
    for start, end, value in zip(offsets, ends, values, strict=True):
        if not isinstance(start, int) or not isinstance(end, int):
            raise NoLogprobs("token offsets that are not numbers")
        if end > len(prompt) and start < full:
            if not isinstance(value, int | float):
                raise NoLogprobs("a log-probability missing in its answer")
            found.append(float(value))
    if not found:
        raise NoLogprobs("no log-probabilities for the answer's tokens")
    return sum(found) / len(found)


def _post(
    client: httpx.Client, choice: TeacherChoice, payload: dict[str, object]
) -> httpx.Response:
    try:
        response = client.post("/completions", json=payload)
    except httpx.ConnectError as exc:
        raise TeacherUnreachableError(
            f"Cannot reach the teacher at {choice.base_url}: {exc}."
        ) from None
    except httpx.TransportError as exc:
        raise TeacherError(f"The teacher at {choice.base_url} failed: {exc}.") from None
    if response.status_code in (401, 403):
        error = TeacherError(
            f"The teacher at {choice.base_url} refused the request (HTTP {response.status_code}).",
            "Give the server's API key.",
        )
        error.status = response.status_code
        raise error
    return response


def parse_rating(text: str) -> int | None:
    """A judge's 1–10 rating, only when the reply is just that number ("7", "Rating: 7",
    "7/10"); None otherwise."""
    match = _RATING.fullmatch(text)
    return int(match.group(1)) if match else None


def judge_prompt(record: StudioRecord) -> str:
    extra = f"\n\nInput: {record.input}" if record.input.strip() else ""
    return JUDGE_PROMPT.format(instruction=record.instruction, input=extra, output=record.output)


def judge(
    records: list[StudioRecord],
    choice: TeacherChoice,
    note: str,
    progress: Progress,
    cancel: CancelToken,
) -> ScoredRecords:
    """Each record rated 1–10 by the endpoint's chat model, ``JUDGE_BATCH`` at a time."""
    teacher = open_teacher(choice, parallel=JUDGE_BATCH)
    scores: list[float | None] = []
    try:
        for start in range(0, len(records), JUDGE_BATCH):
            cancel.check()
            batch = records[start : start + JUDGE_BATCH]
            replies = teacher.generate(
                [judge_prompt(r) for r in batch],
                [start + i for i in range(len(batch))],
                JUDGE_SAMPLING,
                cancel,
                lambda text: None,
            )
            for reply in replies:
                rating = parse_rating(reply.text)
                scores.append(None if rating is None else float(rating))
            progress(
                len(scores) / len(records),
                f"scored {len(scores)}/{len(records)} records (judge's rating)",
            )
    finally:
        teacher.close()
    return ScoredRecords(
        [replace(r, score=s) for r, s in zip(records, scores, strict=True)], "judge", note
    )
