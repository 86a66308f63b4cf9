"""``huacaya eval`` run as a user runs it (real processes, the real starter model, 20 items of
the Self-Instruct set): answer → vote → judge end to end, a killed answer run resumes, a bad
prompt file and a model that does not load each end with one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from benchmarks.killing import run_and_kill
from desktop.core.evaluation.answer_files import load_answer_set
from tests.evaluation.judge_server import LoopbackJudge
from tests.helpers import truncated_copy, with_architecture

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 20


def huacaya(
    *args: str, home: Path, stdin: str = "", timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUACAYA_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
    )  # fmt: skip


def answer_args(model: Path, prompts: Path, out: Path, tokens: int = 16) -> list[str]:
    return [
        "eval", "answer", "--model", str(model), "--prompts", str(prompts), "--out", str(out),
        "--limit", str(ITEMS), "--max-tokens", str(tokens), "--parallel", "4", "--threads", "1",
    ]  # fmt: skip


def test_answer_vote_and_judge_end_to_end(
    huacaya_home: Path, tmp_path: Path, starter_path: Path, user_oriented: Path, davinci: Path
) -> None:
    out = tmp_path / "starter.jsonl"
    first = huacaya(*answer_args(starter_path, user_oriented, out), home=huacaya_home)
    assert first.returncode == 0, first.stderr
    assert f"Wrote {ITEMS} of {ITEMS} answers" in first.stdout
    assert f"{ITEMS} generated" in first.stdout
    answers = load_answer_set(out)
    assert len(answers.answers) == ITEMS and answers.complete
    assert answers.meta["settings"]["temperature"] == 0.0  # greedy, and recorded
    assert answers.meta["settings"]["max_tokens"] == 16
    assert len(answers.meta["model"]["model_sha256"]) == 64
    assert all(0 < a.generated_tokens <= 16 for a in answers.answers)
    # The same command again: every answer from the cache, the same file.
    again = huacaya(*answer_args(starter_path, user_oriented, out), home=huacaya_home)
    assert again.returncode == 0, again.stderr
    assert "0 generated" in again.stdout and f"{ITEMS} from the cache" in again.stdout
    assert [a.response for a in load_answer_set(out).answers] == [
        a.response for a in answers.answers
    ]

    # Blind votes: half now, quit, the rest after a restart.
    session = tmp_path / "votes.jsonl"
    vote = ["eval", "vote", str(out), str(davinci), "--session", str(session)]
    keys = ["a", "b", "t", "x", "s", "a", "u", "b", "a", "b", "q"]
    part = huacaya(*vote, stdin="\n".join(keys) + "\n", home=huacaya_home)
    assert part.returncode == 0, part.stderr
    assert "Stopped with 7 of 20 voted" in part.stdout
    assert "SmolLM2" not in part.stdout.split("Stopped with")[0]  # names hidden while voting
    rest = huacaya(*vote, stdin="a\nb\n" * 7, home=huacaya_home)
    assert rest.returncode == 0, rest.stderr
    assert "Every item has a vote" in rest.stdout
    exported = tmp_path / "votes.json"
    huacaya(*vote, "--export", str(exported), home=huacaya_home)
    document = json.loads(exported.read_text())
    rows = document["votes"]
    assert len(rows) == ITEMS
    starter = answers.name
    for row in rows:
        if row["vote"] in ("a", "b"):
            shown_a = row["shown_as_a"]
            other = "text-davinci-003_predictions" if shown_a == starter else starter
            assert row["winner"] == (shown_a if row["vote"] == "a" else other)
    wins = sum(row["winner"] == starter for row in rows)
    ties = sum(row["vote"] in ("tie", "both_bad") for row in rows)
    tally = document["results"][starter]
    assert (tally["wins"], tally["ties"]) == (wins, ties)
    assert f"{starter}: {wins} wins, {ITEMS - wins - ties} losses, {ties} ties" in rest.stdout

    # The judge, with the people's votes beside it.
    with LoopbackJudge("longer") as server:
        report_file = tmp_path / "judge.json"
        judged = huacaya(
            "eval", "judge", "--judge", server.url, str(out), str(davinci),
            "--votes", str(session), "--out", str(report_file), home=huacaya_home,
        )  # fmt: skip
        assert judged.returncode == 0, judged.stderr
        assert len(server.requests) == 2 * ITEMS
    assert "Position consistency" in judged.stdout and "length-controlled" in judged.stdout
    assert f"on {ITEMS} pairs voted by people" in judged.stdout
    report = json.loads(report_file.read_text())
    assert len(report["judgments"]) == ITEMS and report["human_pairs"] == ITEMS


def _cache_lines(home: Path, at_least: int):  # type: ignore[no-untyped-def]
    def moment(process: psutil.Process) -> bool:
        for path in (home / "data" / "evaluation" / "answers").glob("*.jsonl"):
            try:
                if path.read_bytes().count(b"\n") >= at_least:
                    return True
            except OSError:
                continue
        return False

    return moment


def test_a_killed_answer_run_resumes_where_it_stopped(
    huacaya_home: Path, tmp_path: Path, starter_path: Path, user_oriented: Path
) -> None:
    out = tmp_path / "answers.jsonl"
    args = answer_args(starter_path, user_oriented, out, tokens=48)
    killed = run_and_kill(
        [sys.executable, "-m", "desktop", *args],
        _cache_lines(huacaya_home, 3),
        "after three answers",
        env={"HUACAYA_HOME": str(huacaya_home)},
        timeout=300,
    )
    assert killed.reached and killed.exit_code is None, killed.output
    if out.exists():  # what is there is whole: written atomically
        assert not load_answer_set(out).complete
    resumed = huacaya(*args, home=huacaya_home)
    assert resumed.returncode == 0, resumed.stderr
    cached = int(resumed.stdout.split(" from the cache")[0].rsplit(", ", 1)[1])
    assert cached >= 3
    assert f"{ITEMS - cached} generated" in resumed.stdout
    final = load_answer_set(out)
    assert final.complete and len(final.answers) == ITEMS


def test_a_malformed_prompt_file_ends_with_one_message_naming_the_line(
    huacaya_home: Path, tmp_path: Path, starter_path: Path
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"instruction": "One"}\n{"instruction": "Two"}\n{"instruction": Three}\n')
    result = huacaya(
        "eval", "answer", "--model", str(starter_path), "--prompts", str(prompts),
        "--out", str(tmp_path / "a.jsonl"), home=huacaya_home,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("huacaya: error: “prompts.jsonl” line 3: not a JSON object")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize("damage", ["truncated", "unknown architecture"])
def test_a_model_that_fails_to_load_ends_with_one_clear_message_and_nothing_is_lost(
    huacaya_home: Path, tmp_path: Path, starter_path: Path, user_oriented: Path, damage: str
) -> None:
    if damage == "truncated":
        model = truncated_copy(starter_path, tmp_path / "broken.gguf")
    else:
        model = with_architecture(starter_path, tmp_path / "broken.gguf", b"zzzzz")
    out = tmp_path / "answers.jsonl"
    out.write_text('{"instruction": "Kept?", "response": "Yes: what the user had."}\n')
    before = out.read_bytes()
    result = huacaya(*answer_args(model, user_oriented, out), "--force", home=huacaya_home)
    assert result.returncode == 1
    assert result.stderr.startswith("huacaya: error: ")
    assert "broken.gguf" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (
            ["vote", "{answers}", "{tmp}/nope.jsonl"],
            "The answer file “{tmp}/nope.jsonl” does not exist.",
        ),
        (["vote", "{answers}", "{tmp}/plain.txt"], "is neither an answer file"),
        (["vote", "{answers}", "{answers}"], "Both sides are"),
        (["vote", "{answers}", "no-such-model", "--prompts", "{answers}"], "no-such-model"),
        (
            [
                "judge",
                "--judge",
                "{answers}",
                "{answers}",
                "{other}",
                "--votes",
                "{tmp}/gone.jsonl",
            ],
            "The vote session “{tmp}/gone.jsonl” does not exist.",
        ),
    ],
)
def test_sides_that_cannot_be_compared_are_refused_before_anything_is_answered(
    huacaya_home: Path, tmp_path: Path, command: list[str], said: str
) -> None:
    answers, other = tmp_path / "answers.jsonl", tmp_path / "other.jsonl"
    for path, text in ((answers, "Yes."), (other, "No.")):
        path.write_text(json.dumps({"instruction": "Say yes.", "response": text}) + "\n")
    (tmp_path / "plain.txt").write_text("not answers\n")
    fill = {"answers": str(answers), "other": str(other), "tmp": str(tmp_path)}
    result = huacaya("eval", *(part.format(**fill) for part in command), home=huacaya_home)
    assert result.returncode == 1, result.stdout
    assert said.format(**fill) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (huacaya_home / "data" / "evaluation" / "answer-sets").exists()  # nothing answered
