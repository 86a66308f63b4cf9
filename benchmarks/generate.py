"""Data generation with a local teacher: today's path before batching (one request at a time,
with the decoder's settings of then: one pool of KV cells and llama.cpp's flash attention),
one request at a time now (``--batch-size 1``), and the batched default (each request asked on
its own, the next as soon as one is answered); same teacher, seed tasks, seed and requests,
interleaved (A, B, C, A, B, C). Each way has its own default threads unless ``--threads`` is
given: today's path half the logical CPUs, as then; the others the cores idle when the teacher
is loaded (``conversion/cpu_threads.py``).

    python benchmarks/generate.py [--teacher FILE.gguf] [--seed-tasks seed_tasks.jsonl]
                                  [--requests 10] [--batch-size 5] [--max-tokens 3072]
                                  [--rounds 2] [--seed 0]

Every way runs ``conversion.selfinstruct.runner.generate`` with a ``GgufTeacher`` (the starter
GGUF by default; Stanford's 175 seed tasks beside the checkout) on ``--requests`` requests per
round (each round its own run seed from ``--seed`` on, the same for every way, so all ask the
very same prompts with the very same sampling seeds). Printed per way: records kept per minute,
prompts per minute and generated tokens per second (the replies' tokens, counted with the
teacher's tokenizer), and the ratios to today's path. Goal: ≥ 2× records per minute.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conversion.decoding import decoder  # noqa: E402
from conversion.selfinstruct.gguf_teacher import GgufTeacher  # noqa: E402
from conversion.selfinstruct.runner import GenerationConfig, generate  # noqa: E402
from conversion.selfinstruct.seeds import load_seed_tasks  # noqa: E402
from conversion.selfinstruct.teachers import Sampling  # noqa: E402


@dataclass
class Way:
    label: str
    batch_size: int
    teacher: GgufTeacher
    concurrent: bool = True
    records: list[float] = field(default_factory=list)  # per minute, per round
    prompts: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)  # per second
    kept: int = 0
    asked: int = 0


class CountingTeacher:
    """The teacher as the runner sees it, counting the tokens of its replies; ``concurrent``
    False makes the runner ask it a batch at a time, as before the slots were kept busy."""

    def __init__(self, teacher: GgufTeacher, concurrent: bool) -> None:
        self.teacher = teacher
        self.identity = teacher.identity
        self.continuation = teacher.continuation
        self.concurrent = concurrent
        self.tokens = 0
        self._lock = threading.Lock()

    def generate(self, prompts, seeds, sampling, cancel, activity):  # type: ignore[no-untyped-def]
        replies = self.teacher.generate(prompts, seeds, sampling, cancel, activity)
        model = self.teacher._model  # the teacher's own tokenizer
        counted = sum(len(model.tokenize(r.text, add_special=False)) for r in replies)
        with self._lock:
            self.tokens += counted
        return replies

    def close(self) -> None:
        pass


@contextmanager
def decoder_as_before() -> Iterator[None]:
    """Decoders made inside hold every sequence in one pool of KV cells with flash attention,
    as before separate cells on the CPU (decoder.cells_and_attention)."""
    original = decoder.cells_and_attention
    decoder.cells_and_attention = lambda params, on_cpu: original(params, False)
    try:
        yield
    finally:
        decoder.cells_and_attention = original


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teacher", type=Path, help="a GGUF file (default: the starter model)")
    parser.add_argument(
        "--seed-tasks", type=Path, default=ROOT.parent / "shared/alpaca/seed_tasks.jsonl"
    )
    parser.add_argument("--requests", type=int, default=10, help="per way and round")
    parser.add_argument("--batch-size", type=int, default=5, help="the batched way's (default 5)")
    parser.add_argument("--max-tokens", type=int, default=3072, help="per reply (the default)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the first round's run seed")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="the teacher's CPU threads in every way (default: each way's own default)",
    )
    args = parser.parse_args()

    if args.teacher is None:
        from desktop.core.models.starter import starter_model_path

        args.teacher = starter_model_path()
    seed_tasks = load_seed_tasks(args.seed_tasks)
    print(f"teacher {args.teacher.name}, {len(seed_tasks)} seed tasks; start: {load()}")
    with decoder_as_before():  # and the threads of then: half the logical CPUs
        then = args.threads or max(1, (os.cpu_count() or 2) // 2)
        before = GgufTeacher(args.teacher, threads=then)
    alone = GgufTeacher(args.teacher, threads=args.threads)
    batched = GgufTeacher(args.teacher, threads=args.threads, parallel=args.batch_size)
    print(f"  today's path: {then} threads ({'--threads' if args.threads else 'as then'})")
    for name, teacher in (("now", alone), ("batched", batched)):
        print(f"  {name}: {teacher.threads.threads} threads ({teacher.threads.reason})")
    ways = [
        Way("today's path (one at a time, before)", 1, before),
        Way("one at a time (--batch-size 1)", 1, alone),
        Way(f"batched (--batch-size {args.batch_size})", args.batch_size, batched),
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="huacaya-bench-generate-") as tmp:
            for round_number in range(args.rounds):
                for number, way in enumerate(ways):
                    config = GenerationConfig(
                        num=1_000_000,  # the request budget ends the run
                        batch_size=way.batch_size,
                        seed=args.seed + round_number,
                        sampling=Sampling(max_tokens=args.max_tokens),
                        max_requests=args.requests,
                        # Throughput, not yield: a weak teacher's run of task-less replies
                        # must not end the measurement.
                        max_failed_replies=args.requests + 1,
                    )
                    counting = CountingTeacher(way.teacher, way.concurrent)
                    out = Path(tmp) / f"{round_number}-{number}.json"
                    started = time.perf_counter()
                    result = generate(seed_tasks, counting, out, config)  # type: ignore[arg-type]
                    seconds = time.perf_counter() - started
                    way.records.append(result.records * 60 / seconds)
                    way.prompts.append(result.requests * 60 / seconds)
                    way.tokens.append(counting.tokens / seconds)
                    way.kept += result.records
                    way.asked += result.requests
                    print(
                        f"  round {round_number + 1} {way.label}: {result.records} kept of "
                        f"{result.requests} prompts in {seconds:.0f} s, "
                        f"{counting.tokens / seconds:.0f} tokens/s; {load()}",
                        flush=True,
                    )
    finally:
        for teacher in {id(w.teacher): w.teacher for w in ways}.values():
            teacher.close()

    print(f"\nend: {load()}")
    print(f"{'way':<38}{'records/min':>12}{'prompts/min':>12}{'tokens/s':>10}{'kept':>6}")
    for way in ways:
        print(
            f"{way.label:<38}{statistics.median(way.records):>12.2f}"
            f"{statistics.median(way.prompts):>12.2f}{statistics.median(way.tokens):>10.0f}"
            f"{way.kept:>6}"
        )
    alone = ways[0]

    def ratio(way: Way, name: str) -> str:
        baseline = statistics.median(getattr(alone, name))
        if baseline <= 0:  # e.g. no record kept one at a time: no ratio to give
            return "n/a"
        return f"{statistics.median(getattr(way, name)) / baseline:.2f}×"

    for way in ways[1:]:
        print(
            f"{way.label} / today's path: {ratio(way, 'records')} records/min, "
            f"{ratio(way, 'prompts')} prompts/min, {ratio(way, 'tokens')} tokens/s"
        )
    print(
        f"(goal: batched ≥ 2× records/min; {args.requests} requests per way and round, "
        f"{args.rounds} rounds, max {args.max_tokens} tokens per reply)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
