"""An OpenAI-compatible endpoint as a side: answered through data generation's client, with the
key from the environment, cached like a model's answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core.evaluation.answer_files import load_answer_set
from desktop.core.evaluation.answering import AnswerRun
from desktop.core.evaluation.items import load_prompts
from desktop.core.evaluation.sides import open_answerer
from tests.evaluation.judge_server import LoopbackJudge


def test_an_endpoint_answers_a_set_with_the_key_from_the_environment(
    tmp_path: Path, user_oriented: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_TEST_KEY", "sk-loopback")
    items = load_prompts(user_oriented)[:5]
    with LoopbackJudge() as server:
        answerer = open_answerer(server.url, remote_model="big-model", api_key_env="EVAL_TEST_KEY")
        out = tmp_path / "big.jsonl"
        report = AnswerRun(answerer, items, out, cache_dir=tmp_path).run()
        assert report.generated == 5 and len(server.requests) == 5
        assert set(server.keys) == {"Bearer sk-loopback"}
        assert {b["model"] for b in server.requests} == {"big-model"}
        assert {b["temperature"] for b in server.requests} == {0.0}  # greedy
        asked = sorted(b["messages"][-1]["content"] for b in server.requests)  # type: ignore[index]
        assert asked == sorted(item.question for item in items)
        again = AnswerRun(answerer, items, out, cache_dir=tmp_path).run()
        answerer.close()
        assert again.cached == 5 and len(server.requests) == 5  # nothing asked again
    answers = load_answer_set(out)
    assert answers.meta["model"] == {"endpoint": server.url, "model": "big-model"}
    assert [a.response for a in answers.answers] == [
        server.verdict(item.question).strip() for item in items
    ]
