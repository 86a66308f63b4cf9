"""A model answering a set through the engine's batched decoding: the greedy answers asked
alone, cancel keeps what was answered, an item longer than the context does not stop the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import Cancelled
from conversion.progress import CancelToken
from desktop.core.evaluation.answer_files import load_answer_set
from desktop.core.evaluation.answerers import TOO_LONG, AnswerSettings, LocalAnswerer
from desktop.core.evaluation.answering import AnswerRun
from desktop.core.evaluation.items import load_prompts
from tests.conftest import QUESTIONS
from tests.scoring import Reference


def question_file(tmp_path: Path, questions: list[str]) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(questions) + "\n")
    return path


def test_answers_decoded_together_are_the_greedy_answers_asked_alone(
    tmp_path: Path, starter_path: Path, references: dict[str, Reference]
) -> None:
    items = load_prompts(question_file(tmp_path, QUESTIONS))
    answerer = LocalAnswerer(starter_path, parallel=4, threads=1)
    settings = AnswerSettings(max_tokens=32)  # greedy, no repeat penalty: as the references
    run = AnswerRun(answerer, items, tmp_path / "answers.jsonl", settings, cache_dir=tmp_path)
    report = run.run()
    answerer.close()
    assert report.generated == len(QUESTIONS) and report.complete
    answers = load_answer_set(tmp_path / "answers.jsonl")
    assert answers.meta["prompt_format_used"] == "template"  # the model's own chat template
    for question, answer in zip(QUESTIONS, answers.answers, strict=True):
        references[question].assert_matches(answer.response)


def test_cancel_keeps_the_answers_so_far_and_the_next_run_goes_on(
    tmp_path: Path, starter_path: Path
) -> None:
    items = load_prompts(question_file(tmp_path, QUESTIONS + [f"{q} Be brief." for q in QUESTIONS]))
    out = tmp_path / "answers.jsonl"
    cancel = CancelToken()

    def progress(fraction: float, message: str = "") -> None:
        if fraction > 0:
            cancel.cancel()  # after the first answer

    answerer = LocalAnswerer(starter_path, parallel=2, threads=1)
    settings = AnswerSettings(max_tokens=24)
    with pytest.raises(Cancelled):
        AnswerRun(answerer, items, out, settings, cache_dir=tmp_path).run(progress, cancel)
    kept = load_answer_set(out)
    assert not kept.complete and 1 <= len(kept.answers) < len(items)
    report = AnswerRun(answerer, items, out, settings, cache_dir=tmp_path).run()
    answerer.close()
    assert report.cached == len(kept.answers) and report.complete
    assert report.generated == len(items) - len(kept.answers)


def test_an_item_longer_than_the_context_leaves_the_others_answered(
    tmp_path: Path, starter_path: Path
) -> None:
    long_question = "Summarise this: " + "the llama grazes on the hill " * 60
    items = load_prompts(question_file(tmp_path, [QUESTIONS[0], long_question, QUESTIONS[1]]))
    answerer = LocalAnswerer(starter_path, parallel=2, threads=1, context_length=128)
    report = AnswerRun(
        answerer, items, tmp_path / "a.jsonl", AnswerSettings(max_tokens=8), cache_dir=tmp_path
    ).run()
    answerer.close()
    assert report.complete
    answers = load_answer_set(tmp_path / "a.jsonl").answers
    assert [a.finish_reason == TOO_LONG for a in answers] == [False, True, False]
    assert answers[0].response and answers[2].response and not answers[1].response


def test_an_alpaca_model_is_asked_with_stanfords_prompt_and_its_input_block(
    tmp_path: Path, starter_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conversion import alpaca
    from desktop.core.chat.engine import ChatEngine
    from tests.helpers import without_chat_template

    model = without_chat_template(starter_path, tmp_path / "alpaca-style.gguf")
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(
        '{"instruction": "Translate the sentence into French.", "input": "Good morning."}\n'
        '{"instruction": "Name the days of the week."}\n'
    )
    asked: list[str] = []
    complete = ChatEngine.complete

    def recording(self: ChatEngine, prompt: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        asked.append(prompt)
        return complete(self, prompt, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ChatEngine, "complete", recording)
    answerer = LocalAnswerer(model, parallel=2, threads=1)
    out = tmp_path / "a.jsonl"
    AnswerRun(
        answerer, load_prompts(prompts), out, AnswerSettings(max_tokens=8), cache_dir=tmp_path
    ).run()
    answerer.close()
    assert sorted(asked) == sorted(
        [
            alpaca.format_prompt("Translate the sentence into French.", "Good morning."),
            alpaca.format_prompt("Name the days of the week."),
        ]
    )
    assert load_answer_set(out).meta["prompt_format_used"] == "alpaca"
