"""The starter model as a local teacher on Stanford's seed tasks, through the installed command.

A 135M model writes few complete tasks (greedy, it mostly copies an example, which the
de-duplication drops), and which words it writes depends on the machine, so this checks what
must hold for whatever it writes: the library name resolves, the run stops at its request
budget, the journal accounts for every request, and every record is valid Alpaca data that
passes the filters and is not a near-duplicate of a seed or an earlier record (recomputed here
with rouge-score itself). The loopback teacher's tests cover the records' path in full.
"""

from __future__ import annotations

import json
from pathlib import Path

import llama_cpp
import pytest
from rouge_score.rouge_scorer import _score_lcs

from conversion import cpu_threads
from conversion.errors import Cancelled
from conversion.progress import CancelToken
from conversion.selfinstruct.filters import InstructionFilter
from conversion.selfinstruct.gguf_teacher import GgufTeacher
from conversion.selfinstruct.journal import journal_path
from conversion.selfinstruct.rouge import rouge_tokens
from conversion.selfinstruct.seeds import load_seed_tasks
from conversion.selfinstruct.teachers import Sampling
from desktop.cli import generate as cli_generate
from desktop.core.models.starter import STARTER_ID
from tests.helpers import another_program_takes_two_of_three_cores
from tests.scoring import Scorer


def test_starter_model_as_teacher(
    stanford_seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data.json"
    code = cli_generate.main(
        [
            "--seed-tasks", str(stanford_seeds), "--out", str(out), "--num", "50",
            "--teacher", f"gguf:{STARTER_ID}", "--ctx", "2048", "--max-tokens", "200",
            "--temperature", "0", "--batch-size", "2",
            "--max-requests", "4", "--max-failed-replies", "100",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Only" in captured.out and "of 50 so far" in captured.out
    assert "The teacher runs on " in captured.err  # its threads, and why
    records = json.loads(out.read_text(encoding="utf-8"))
    batches = journal_path(out).read_text(encoding="utf-8").splitlines()[1:]
    # Each request journaled as it is answered (a local teacher's slots are kept busy).
    asked = [(json.loads(b)["first_request"], json.loads(b)["requests"]) for b in batches]
    assert asked == [(0, 1), (1, 1), (2, 1), (3, 1)]
    assert [r for b in batches for r in json.loads(b)["records"]] == records
    earlier = [rouge_tokens(t.instruction) for t in load_seed_tasks(stanford_seeds)]
    rules = InstructionFilter()
    for record in records:
        assert set(record) == {"instruction", "input", "output", "most_similar_instructions"}
        assert all(isinstance(record[k], str) for k in ("instruction", "input", "output"))
        assert record["instruction"].strip() and record["output"].strip()
        assert rules.rejection(record["instruction"]) is None
        tokens = rouge_tokens(record["instruction"])
        assert max(_score_lcs(tokens, e).fmeasure for e in earlier) <= 0.7
        for similar in record["most_similar_instructions"]:
            score = _score_lcs(tokens, rouge_tokens(similar["instruction"])).fmeasure
            assert similar["score"] == score
        earlier.append(tokens)


def test_bad_local_teachers(
    stanford_seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--seed-tasks", str(stanford_seeds), "--out", str(tmp_path / "d.json")]
    assert cli_generate.main([*args, "--teacher", "gguf:no-such-model"]) == 1
    assert "huacaya models list" in capsys.readouterr().err
    missing = tmp_path / "gone.gguf"
    assert cli_generate.main([*args, "--teacher", f"gguf:{missing}"]) == 1
    assert str(missing) in capsys.readouterr().err
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("a shopping list\n" * 50, encoding="utf-8")
    assert cli_generate.main([*args, "--teacher", f"gguf:{not_gguf}"]) == 1
    assert "notes.gguf" in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()


# Continuations whose greedy tokens lead by more than a logit (checked below).
CONTINUATIONS = ["1, 2, 3, 4, 5,", "a, b, c, d, e,", "10, 20, 30, 40,"]


def test_a_batch_of_prompts_is_decoded_together_as_each_alone(starter_path: Path) -> None:
    """``--batch-size 3``: three prompts in one llama.cpp batch give the replies each gives
    alone (greedy, up to the first near-tie), each with its own seed, limit and stop string."""
    greedy = Sampling(temperature=0.0, max_tokens=12, stop=("h",))
    seeds = [1, 2, 3]
    alone = GgufTeacher(starter_path, context_length=256, parallel=1)
    try:
        singles = [
            alone.generate([p], [s], greedy, CancelToken(), lambda text: None)[0]
            for p, s in zip(CONTINUATIONS, seeds, strict=True)
        ]
    finally:
        alone.close()
    together = GgufTeacher(starter_path, context_length=256, parallel=3)
    try:
        replies = together.generate(CONTINUATIONS, seeds, greedy, CancelToken(), lambda t: None)
        warm = Sampling(temperature=1.0, max_tokens=12)
        drawn = together.generate(CONTINUATIONS[:2] * 2, [5, 6, 5, 6], warm, CancelToken(), print)
    finally:
        together.close()
    with Scorer(starter_path) as scorer:
        for prompt, single, reply in zip(CONTINUATIONS, singles, replies, strict=True):
            reference = scorer.reference(scorer.tokenize(prompt), single.text, 3)
            reference.assert_matches(reply.text)
            assert reply.finish_reason == single.finish_reason
    assert replies[1].text == " f, g, " and replies[1].finish_reason == "stop"
    assert replies[0].finish_reason == "length"
    assert drawn[0].text == drawn[2].text and drawn[1].text == drawn[3].text  # seed by seed


def test_cancelling_stops_a_batch(starter_path: Path) -> None:
    teacher = GgufTeacher(starter_path, context_length=256, parallel=2)
    cancel = CancelToken()
    try:
        with pytest.raises(Cancelled):
            teacher.generate(
                ["1, 2, 3,", "a, b, c,"],
                [1, 2],
                Sampling(temperature=1.0, max_tokens=200),
                cancel,
                lambda text: cancel.cancel(),  # Ctrl+C as the first progress line shows
            )
    finally:
        teacher.close()


def test_the_teacher_takes_the_idle_cores_unless_told(
    starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generating data is a long job, like training: by default llama.cpp gets the cores that
    are idle when the teacher is loaded (a chat answer keeps one free), ``threads`` wins."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpu_threads, "usable_cores", lambda: 3)

    def threads_of(idle: float, given: int | None = None) -> tuple[int, str]:
        monkeypatch.setattr(cpu_threads, "idle_cores", lambda: idle)
        teacher = GgufTeacher(starter_path, context_length=256, threads=given)
        try:
            used = int(llama_cpp.llama_n_threads(teacher._decoder._scheduler.ctx))
            assert used == teacher.threads.threads
            return used, teacher.threads.reason
        finally:
            teacher.close()

    assert threads_of(3.0) == (3, "all 3 cores were idle")
    assert threads_of(1.2)[0] == 1  # another program holds two cores
    assert threads_of(0.0, given=2) == (2, "--threads")


def test_the_teachers_threads_follow_the_load_unless_told(
    starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chosen from the idle cores, the teacher's threads change when the machine's load does
    (the watch says how many, the decoder sets them between steps); asked for, they stay."""
    looked = another_program_takes_two_of_three_cores(monkeypatch)
    sampling = Sampling(temperature=0.0, max_tokens=4)

    def threads_after_a_reply(given: int | None) -> int:
        teacher = GgufTeacher(starter_path, context_length=256, threads=given)
        try:
            teacher.generate(["Name a colour."], [0], sampling, CancelToken(), lambda _: None)
            return int(llama_cpp.llama_n_threads(teacher._decoder._scheduler.ctx))
        finally:
            teacher.close()

    assert threads_after_a_reply(None) == 1 and looked and looked[0] == 3
    looked.clear()
    assert threads_after_a_reply(2) == 2 and looked == []  # --threads 2: no watch
