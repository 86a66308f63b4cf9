"""Answer sets: the evaluation's batched answering against ChatEngine one question at a time.

    python benchmarks/eval.py [--prompts user_oriented_instructions.jsonl] [--items 32]
                              [--tokens 128] [--parallel 8] [--threads N] [--rounds 1]

Both answer the same instructions (the first ``--items`` of the Self-Instruct user-oriented set,
from ``../shared/alpaca`` by default) with the starter model, the same threads, the same
greedy settings and the model's own chat template, in the same run, alternately per round:

- one by one: a one-slot ``ChatEngine`` answers each instruction in turn (``engine.stream``);
- batched: ``AnswerRun`` with a ``LocalAnswerer`` (``--parallel`` answers decoded together in
  one llama.cpp context through the engine), from an empty answer cache.

Printed: answers/min and generated tokens/s of each, their ratio (goal: ≥ 2× on 2 cores), and
greedy agreement: identical answers, and the share of tokens the two agree on up to where they
part (a near-tie may flip under another batch shape; see benchmarks/batching.py for the leads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.batching import NEAR_TIE, _lead
from conversion.decoding.model import GgufModel
from desktop.core.chat.engine import ChatEngine
from desktop.core.evaluation.answer_files import load_answer_set
from desktop.core.evaluation.answerers import AnswerSettings, LocalAnswerer
from desktop.core.evaluation.answering import AnswerRun
from desktop.core.evaluation.items import EvalItem, load_prompts
from desktop.core.models.starter import starter_model_path

DEFAULT_PROMPTS = (
    Path(__file__).resolve().parents[2] / "shared" / "alpaca" / "user_oriented_instructions.jsonl"
)
GOAL = 2.0


def one_by_one(
    model: Path, items: list[EvalItem], settings: AnswerSettings, threads: int
) -> tuple[float, int, list[str]]:
    started = time.perf_counter()
    engine = ChatEngine(model, context_length=2048, threads=threads, slots=1)
    engine.load()
    answers, tokens = [], 0
    for item in items:
        response = engine.stream(
            [{"role": "user", "content": item.question}], settings.generation()
        )
        answers.append(response.text().strip())
        assert response.stats is not None
        tokens += response.stats.generated_tokens
    engine.close()
    return time.perf_counter() - started, tokens, answers


def batched(
    model: Path, items: list[EvalItem], settings: AnswerSettings, threads: int, parallel: int
) -> tuple[float, int, list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        answerer = LocalAnswerer(model, parallel=parallel, context_length=2048, threads=threads)
        run = AnswerRun(answerer, items, Path(folder) / "answers.jsonl", settings,
                        cache_dir=Path(folder) / "cache")  # fmt: skip
        report = run.run()
        answerer.close()
        seconds = time.perf_counter() - started
        by_id = {a.id: a.response for a in load_answer_set(run.out).answers}
        return seconds, report.generated_tokens, [by_id[i.id] for i in items]


def agreement(
    model_path: Path, items: list[EvalItem], alone: list[str], together: list[str]
) -> tuple[int, float, list[float]]:
    """Identical answers; the share of tokens equal up to where answers part; and, for each
    answer that parts, the lead (logits) of the alone answer's token there, decoded alone."""
    engine = ChatEngine(model_path, context_length=2048, threads=1)
    engine.load()
    model = GgufModel.load(model_path)
    same = shared = compared = 0
    leads = []
    for item, a, b in zip(items, alone, together, strict=True):
        same += a == b
        x, y = engine.tokenize(a), engine.tokenize(b)
        part = next((k for k, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), None)
        compared += max(len(x), 1)
        shared += min(len(x), len(y)) if part is None else part
        if part is not None:
            prompt, _ = engine.prompt_tokens([{"role": "user", "content": item.question}])
            leads.append(_lead(model, prompt, x[: part + 1], 1))
    engine.close()
    model.close()
    return same, shared / compared, leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS)
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    model = starter_model_path()
    items = load_prompts(args.prompts)[: args.items]
    settings = AnswerSettings(max_tokens=args.tokens)
    print(
        f"{len(items)} instructions of {args.prompts.name}, {model.name}, {args.threads} threads, "
        f"greedy, at most {args.tokens} tokens each; batched: {args.parallel} at once"
    )
    alone_runs, together_runs = [], []
    alone_answers: list[str] = []
    together_answers: list[str] = []
    for round_number in range(args.rounds):
        seconds, tokens, alone_answers = one_by_one(model, items, settings, args.threads)
        alone_runs.append((seconds, tokens))
        print(f"round {round_number + 1}: one by one {len(items) / seconds * 60:6.1f} answers/min, "
              f"{tokens / seconds:6.1f} tokens/s ({tokens} tokens in {seconds:.1f} s)")  # fmt: skip
        seconds, tokens, together_answers = batched(
            model, items, settings, args.threads, args.parallel
        )
        together_runs.append((seconds, tokens))
        print(f"round {round_number + 1}: batched    {len(items) / seconds * 60:6.1f} answers/min, "
              f"{tokens / seconds:6.1f} tokens/s ({tokens} tokens in {seconds:.1f} s)")  # fmt: skip
    alone_rate = statistics.median(len(items) / s * 60 for s, _ in alone_runs)
    together_rate = statistics.median(len(items) / s * 60 for s, _ in together_runs)
    alone_tps = statistics.median(t / s for s, t in alone_runs)
    together_tps = statistics.median(t / s for s, t in together_runs)
    same, shared, leads = agreement(model, items, alone_answers, together_answers)
    print(f"answers/min: one by one {alone_rate:.1f}, batched {together_rate:.1f}")
    print(f"tokens/s:    one by one {alone_tps:.1f}, batched {together_tps:.1f}")
    print(f"greedy agreement: {same}/{len(items)} answers identical; {shared:.1%} of tokens the "
          "same up to where answers part")  # fmt: skip
    near = sum(lead < NEAR_TIE for lead in leads)
    listed = ", ".join(f"{v:.2f}" for v in sorted(leads))
    print(f"  of the {len(leads)} that part, {near} part at a near-tie (the alone answer's token "
          f"led by < {NEAR_TIE} logit); leads: {listed}")  # fmt: skip
    print(f"speed-up (answers/min, batched / one by one): {together_rate / alone_rate:.2f}× "
          f"(goal ≥ {GOAL:.1f}×)")  # fmt: skip


if __name__ == "__main__":
    main()
