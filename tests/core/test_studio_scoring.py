"""Scoring the teacher's answers (core/studio/scoring.py): the starter GGUF's own log-probability
(a greedy answer of its own against the same words shuffled, by a margin), the library scorer
against llama-cpp-python's logits, and an endpoint with and without prompt log-probabilities."""

from __future__ import annotations

import os
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from conversion import cpu_threads
from conversion.decoding.model import GgufModel
from conversion.decoding.scoring import TokenScorer
from conversion.errors import Cancelled, DataGenerationError
from conversion.progress import CancelToken
from conversion.selfinstruct.gguf_teacher import GgufTeacher
from conversion.selfinstruct.teachers import Sampling
from desktop.core.models.starter import STARTER_ID
from desktop.core.studio.endpoint_scoring import parse_rating
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.scores import ScoredRecords
from desktop.core.studio.scoring import score_records
from tests.helpers import another_program_takes_two_of_three_cores
from tests.openai_server import LoopbackTeacher, echo_tokens, token_logprob
from tests.scoring import Scorer, log_softmax

MARGIN = 1.0  # nats per token between the model's own answer and the same words shuffled
QUESTIONS = [
    "Give three tips for staying healthy.",
    "Explain what a rainbow is to a child.",
]


def greedy_answers(path: Path, questions: list[str]) -> list[str]:
    """The starter's own answers, asked as the scorer renders them (its chat template)."""
    teacher = GgufTeacher(path, api="chat", context_length=1024, parallel=len(questions))
    try:
        replies = teacher.generate(
            questions, [0] * len(questions), Sampling(0.0, 1.0, 48), CancelToken(), print
        )
    finally:
        teacher.close()
    return [reply.text.strip() for reply in replies]


def shuffled(text: str) -> str:
    words = text.split()
    random.Random(0).shuffle(words)
    return " ".join(words)


def test_the_teachers_own_answer_scores_higher_than_garbled(starter_path: Path) -> None:
    answers = greedy_answers(starter_path, QUESTIONS)
    records = [StudioRecord(q, "", a) for q, a in zip(QUESTIONS, answers, strict=True)]
    garbled = [StudioRecord(r.instruction, "", shuffled(r.output)) for r in records]
    assert all(g.output != r.output for g, r in zip(garbled, records, strict=True))
    seen: list[float] = []
    said: list[str] = []

    def progress(fraction: float, message: str = "") -> None:
        seen.append(fraction)
        said.append(message)

    scored = score_records(
        [*records, *garbled, StudioRecord("Say nothing.", "", "")],
        f"gguf:{STARTER_ID}",
        progress=progress,
        threads=1,
    )
    assert isinstance(scored, ScoredRecords) and scored.method == "logprob"
    assert [r.output for r in scored[:4]] == [r.output for r in [*records, *garbled]]
    own, bad = scored[:2], scored[2:4]
    for good, worse in zip(own, bad, strict=True):
        assert good.score is not None and worse.score is not None
        assert good.score > worse.score + MARGIN, (good.score, worse.score)
    assert scored[4].score is None and scored.unscored == 1
    assert len(seen) >= 5 and seen[-1] == 1.0  # per record
    assert any(m.endswith(" on 1 CPU thread (--threads)") for m in said), said
    assert scored.note.endswith(", on 1 CPU thread (--threads)")  # the command prints it


def test_the_scorer_agrees_with_llama_cpp_logits(starter_path: Path) -> None:
    """Packed several pairs per step, carried over steps (a 16-token batch), the means are
    those of llama-cpp-python's full logits."""
    texts = [
        ("The capital of France is", " Paris, a city on the Seine."),
        ("Once upon a time", " there was a small alpaca who lived in the hills of Peru."),
        ("1, 2, 3,", " 4, 5, 6"),
        *[
            (f"Story {n}:", " The herd walked up the hill in the morning rain." * 9)
            for n in (1, 2, 3)
        ],
    ]
    with Scorer(starter_path) as reference:
        pairs = [(reference.tokenize(p), reference.tokenize(a, add_bos=False)) for p, a in texts]
        expected = []
        for prompt, answer in pairs:
            logprobs = log_softmax(reference.logits([*prompt, *answer]))
            tokens = [*prompt, *answer]
            picked = [logprobs[i - 1, tokens[i]] for i in range(len(prompt), len(tokens))]
            expected.append(sum(picked) / len(picked))
    model = GgufModel.load(starter_path)
    try:
        with TokenScorer(model, context=256, sequences=2, batch_tokens=16, threads=2) as scorer:
            found = scorer.mean_logprobs(pairs)
        # A cache pool smaller than the pairs together: they wait for room, one after another.
        with TokenScorer(model, context=128, sequences=5, pool=32, threads=2) as scorer:
            assert scorer.pool < sum(len(p) + len(a) for p, a in pairs)
            waited = scorer.mean_logprobs(pairs)
    finally:
        model.close()
    assert found == pytest.approx(expected, abs=0.1)  # batch shapes round differently
    assert waited == pytest.approx(expected, abs=0.1)


def test_scoring_takes_the_idle_cores_unless_told(
    starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring a dataset is a long job, like generating it: by default llama.cpp gets the cores
    idle when the scorer starts; ``threads`` wins."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpu_threads, "usable_cores", lambda: 3)
    model = GgufModel.load(starter_path)

    def threads_of(idle: float, given: int | None = None) -> tuple[int, str]:
        monkeypatch.setattr(cpu_threads, "idle_cores", lambda: idle)
        with TokenScorer(model, context=256, sequences=2, threads=given) as scorer:
            used = int(llama_cpp.llama_n_threads(scorer.ctx))
            assert used == int(llama_cpp.llama_n_threads_batch(scorer.ctx))
            return used, scorer.threads.reason

    try:
        assert threads_of(3.0) == (3, "all 3 cores were idle")
        assert threads_of(1.2)[0] == 1  # another program holds two cores
        assert threads_of(0.0, given=2) == (2, "--threads")
    finally:
        model.close()


def test_the_scorers_threads_follow_the_load_unless_told(
    starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chosen from the idle cores, the scorer's threads change with the machine's load between
    steps (the watch says how many); asked for, they stay."""
    looked = another_program_takes_two_of_three_cores(monkeypatch)
    model = GgufModel.load(starter_path)

    def threads_after_scoring(given: int | None) -> int:
        with TokenScorer(model, context=256, sequences=2, threads=given) as scorer:
            scorer.mean_logprobs([([1, 2, 3, 4], [5, 6])])
            return int(llama_cpp.llama_n_threads(scorer.ctx))

    try:
        assert threads_after_scoring(None) == 1 and looked == [3]
        looked.clear()
        assert threads_after_scoring(2) == 2 and looked == []  # --threads 2: no watch
    finally:
        model.close()


def test_a_scorer_used_again_knows_the_threads_it_has(
    starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One watch for the scorer's life: after a busy spell took threads away during one call,
    the next call gives them back when the machine is idle again."""
    another_program_takes_two_of_three_cores(monkeypatch)
    free = [1]  # the threads the machine leaves free

    def as_the_machine_is(watch: cpu_threads.ThreadWatch) -> int | None:
        if free[0] == watch.threads:
            return None
        watch.threads = free[0]
        return free[0]

    monkeypatch.setattr(cpu_threads.ThreadWatch, "check", as_the_machine_is)
    model = GgufModel.load(starter_path)
    try:
        with TokenScorer(model, context=256, sequences=2) as scorer:
            scorer.mean_logprobs([([1, 2, 3, 4], [5, 6])])
            assert llama_cpp.llama_n_threads(scorer.ctx) == 1  # a busy spell
            free[0] = 3  # it ended
            scorer.mean_logprobs([([1, 2, 3, 4], [5, 6])])
            assert llama_cpp.llama_n_threads(scorer.ctx) == 3
    finally:
        model.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness: Linux")
def test_background_scoring_runs_at_a_lower_priority(starter_path: Path) -> None:
    """``background``: the pairs are scored on a thread of lower CPU priority (the window's
    chat keeps its pace), with the same scores; a cancel reaches the caller, and leaves no
    cells behind for the next call."""
    pairs = [([1, 2, 3, 4, 5], [6, 7, 8]), ([9, 10, 11], [12, 13])]
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[tuple[str, int]] = []

    def scored(index: int, score: float | None) -> None:
        thread = threading.current_thread()
        seen.append((thread.name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    model = GgufModel.load(starter_path)
    try:
        with TokenScorer(model, context=256, sequences=2, threads=1, batch_tokens=16) as scorer:
            expected = scorer.mean_logprobs(pairs)
        with TokenScorer(
            model, context=256, sequences=2, threads=1, batch_tokens=16, background=True
        ) as scorer:
            found = scorer.mean_logprobs(pairs, on_scored=scored)
            cancel = CancelToken()
            long = (list(range(20, 60)), [61, 62, 63])  # over several 16-token steps
            with pytest.raises(Cancelled):  # as the first pair ends, the long one half in cells
                scorer.mean_logprobs([pairs[1], long], cancel, lambda *_: cancel.cancel())
            again = scorer.mean_logprobs(pairs)  # from empty cells
    finally:
        model.close()
    assert found == expected and again == expected
    assert [name for name, _ in seen] == ["huacaya-scorer"] * 2
    assert all(niceness > ours for _, niceness in seen), (ours, seen)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours  # the caller's


@pytest.fixture
def loopback() -> Iterator[LoopbackTeacher]:
    server = LoopbackTeacher().start()
    yield server
    server.stop()


RECORDS = [
    StudioRecord("Name a fruit.", "", "An apple is a fruit."),
    StudioRecord("Translate it.", "Hola", "Hello there, my Friend and Neighbour."),
    StudioRecord("Describe it.", "", "It rambles on."),
]


def test_endpoint_prompt_logprobs(loopback: LoopbackTeacher) -> None:
    from conversion.alpaca import format_prompt

    scored = score_records(RECORDS, "openai:loopback", base_url=loopback.url)
    assert isinstance(scored, ScoredRecords) and scored.method == "logprob"
    for record, result in zip(RECORDS, scored, strict=True):
        prompt = format_prompt(record.instruction, record.input) + "\n"
        pieces, end, values = echo_tokens(prompt + record.output), 0, []
        for piece in pieces:
            end += len(piece)
            if end > len(prompt):
                values.append(token_logprob(piece))
        assert result.score == pytest.approx(sum(values) / len(values))
    assert scored[1].score < scored[0].score  # capitals and longer words cost more here
    body = loopback.requests[0]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0


def test_endpoint_wanting_one_new_token(loopback: LoopbackTeacher) -> None:
    loopback.knobs.echo_min_tokens = 1
    scored = score_records(RECORDS, "openai:loopback", base_url=loopback.url)
    assert isinstance(scored, ScoredRecords) and scored.method == "logprob"
    assert scored.unscored == 0
    assert [b["max_tokens"] for b in loopback.requests[:2]] == [0, 1]


def test_endpoint_without_logprobs_falls_back_to_a_judge(loopback: LoopbackTeacher) -> None:
    loopback.knobs.logprobs = False
    scored = score_records(RECORDS, "openai:loopback", base_url=loopback.url)
    assert isinstance(scored, ScoredRecords) and scored.method == "judge"
    assert "judge" in scored.note and "HTTP 400" in scored.note
    # The loopback judge rates 1 + the answer's words; "rambles" gets prose: no score.
    assert [r.score for r in scored] == [6.0, 7.0, None]
    assert scored.unscored == 1


def test_ratings_are_parsed_strictly() -> None:
    for text, rating in [("7", 7), (" Rating: 10\n", 10), ("3/10", 3), ("9.", 9)]:
        assert parse_rating(text) == rating
    for text in ["7 because it is good", "11", "0", "seven", "7.5", ""]:
        assert parse_rating(text) is None


def test_cancel_and_bad_teachers(loopback: LoopbackTeacher) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        score_records(RECORDS, "openai:loopback", base_url=loopback.url, cancel=cancel)
    with pytest.raises(DataGenerationError):
        score_records(RECORDS, "gguf:no-such-model")
    with pytest.raises(DataGenerationError):
        score_records(RECORDS, "loopback")
