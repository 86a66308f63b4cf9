"""The self-instruct loop: prompt the teacher, parse, filter, de-duplicate, keep; resumable.

Every request has a number, and everything random about it — which seed tasks are in its
prompt and the teacher's sampling seed — is derived from ``seed`` and that number alone. So a
run that is interrupted and started again with the same command asks exactly the requests it
had not finished, and (with a teacher that honours seeds) ends with exactly the records an
uninterrupted run would have. The journal (see ``journal.py``) holds the finished batches; the
output holds the first ``num`` records kept, as Alpaca JSON, rewritten atomically.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from conversion.errors import DataGenerationError, TeacherReplyError
from conversion.output import atomic_write_text
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.selfinstruct.dedup import DEFAULT_THRESHOLD, ExhaustiveIndex, make_index
from conversion.selfinstruct.filters import FilterRules, InstructionFilter
from conversion.selfinstruct.journal import Batch, Journal
from conversion.selfinstruct.parse import parse_reply
from conversion.selfinstruct.prompt import default_prompt_text, encode_prompt, stop_sequences
from conversion.selfinstruct.seeds import Task
from conversion.selfinstruct.teachers import Reply, Sampling, Teacher

SIMILAR = "similar"  # a near-duplicate by ROUGE-L
MALFORMED = "malformed"  # a block that is not a numbered Instruction/Input/Output task
TRUNCATED = "cut off"  # the last block of a reply that hit the length limit

# (records kept, candidates dropped by reason, what the teacher is doing now or "")
StatusCallback = Callable[[int, Counter[str], str], None]


@dataclass
class GenerationConfig:
    num: int = 100
    prompt_text: str = field(default_factory=default_prompt_text)
    prompt_tasks: int = 3  # seed tasks shown in each prompt
    tasks_per_prompt: int = 20  # the number the prompt asks for, examples included
    batch_size: int = 5
    seed: int = 0
    sampling: Sampling = field(default_factory=Sampling)
    rules: FilterRules = field(default_factory=FilterRules)
    similarity: float = DEFAULT_THRESHOLD  # ROUGE-L above this against an earlier one: dropped
    dedup: str = "fast"
    lenient_numbers: bool = False
    max_failed_replies: int = 20  # replies in a row without a single task: a useless teacher
    max_requests: int | None = None  # a budget for this run (paid APIs, slow machines)

    def settings(self, seed_tasks: list[Task], teacher: Teacher) -> dict[str, object]:
        """What the output depends on: a run continues only with the same settings."""
        seeds_json = json.dumps([t.__dict__ for t in seed_tasks], ensure_ascii=False)
        return {
            "seed_tasks_sha256": hashlib.sha256(seeds_json.encode()).hexdigest(),
            "prompt_sha256": hashlib.sha256(self.prompt_text.encode()).hexdigest(),
            "teacher": teacher.identity,
            "api": "completions" if teacher.continuation else "chat",
            "prompt_tasks": self.prompt_tasks,
            "tasks_per_prompt": self.tasks_per_prompt,
            "seed": self.seed,
            "temperature": self.sampling.temperature,
            "top_p": self.sampling.top_p,
            "max_tokens": self.sampling.max_tokens,
            "filters": self.rules.settings(),
            "similarity": self.similarity,
            "dedup": self.dedup,
            "lenient_numbers": self.lenient_numbers,
        }


@dataclass
class GenerationResult:
    out: Path
    records: int  # in the output
    resumed_with: int  # records the run started with (from an earlier run)
    requests: int  # asked in this run
    dropped: Counter[str]  # over the whole output's history, by reason
    seconds: float


def request_seed(seed: int, request: int) -> int:
    """The teacher's sampling seed for one request (31 bits, which every server accepts)."""
    digest = hashlib.sha256(f"{seed}/{request}/teacher".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def prompt_examples(seed_tasks: list[Task], seed: int, request: int, count: int) -> list[Task]:
    """The seed tasks shown in one request's prompt (sampled without replacement)."""
    return random.Random(f"{seed}/{request}/examples").sample(seed_tasks, count)


class _Generation:
    """One run's state: the index of instructions, the records, the counts."""

    def __init__(self, seed_tasks: list[Task], config: GenerationConfig, teacher: Teacher) -> None:
        self.config = config
        self.teacher = teacher
        self.filter = InstructionFilter(config.rules)
        self.index: ExhaustiveIndex = make_index(config.dedup, config.similarity)
        for task in seed_tasks:
            self.index.add(task.instruction)
        self.records: list[dict[str, object]] = []
        self.dropped: Counter[str] = Counter()
        self.failed_in_a_row = 0
        self.last_failed = ""

    def restore(self, batches: list[Batch]) -> int:
        """Take back the journal's batches; the number of the next request to ask."""
        next_request = 0
        for batch in batches:
            for record in batch.records:
                self.index.add(str(record["instruction"]))
                self.records.append(record)
            self.dropped.update(batch.dropped)
            next_request = batch.first_request + batch.requests
        return next_request

    def take(self, reply: Reply, batch: Batch) -> None:
        """Parse one reply; keep its new tasks that pass the filters and are not duplicates."""
        parsed = parse_reply(
            reply.text,
            self.config.prompt_tasks + 1,
            reply.hit_length_limit,
            continuation=self.teacher.continuation,
            lenient_numbers=self.config.lenient_numbers,
        )
        batch.dropped[MALFORMED] += parsed.malformed
        batch.dropped[TRUNCATED] += parsed.truncated
        if parsed.tasks:
            self.failed_in_a_row = 0
        else:
            self.failed_in_a_row += 1
            self.last_failed = reply.text
        for task in parsed.tasks:
            reason = self.filter.rejection(task.instruction)
            if reason is None:
                verdict = self.index.judge(task.instruction)
                reason = SIMILAR if verdict.duplicate else None
            if reason is not None:
                batch.dropped[reason] += 1
                continue
            record: dict[str, object] = {
                "instruction": task.instruction,
                "input": task.input,
                "output": task.output,
                # As Stanford's regen.json: the most similar earlier instructions (seeds or
                # kept), best first, and — with exhaustive de-duplication — the mean. A list
                # of objects rather than Stanford's {text: score}: data loaders that infer a
                # schema (Arrow, `datasets`) would make every instruction text a column.
                "most_similar_instructions": [
                    {"instruction": self.index.texts[i], "score": score}
                    for i, score in verdict.most_similar
                ],
            }
            if verdict.mean is not None:
                record["avg_similarity_score"] = verdict.mean
            self.index.add(task.instruction)
            batch.records.append(record)

    def status(self, activity: str = "") -> str:
        total = sum(self.dropped.values())
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in self.dropped.most_common() if n)
        kept = min(len(self.records), self.config.num)
        line = f"kept {kept:,}/{self.config.num:,} · dropped {total:,}"
        line += f" ({reasons})" if reasons else ""
        return f"{line} · {activity}" if activity else line


def generate(
    seed_tasks: list[Task],
    teacher: Teacher,
    out: Path,
    config: GenerationConfig,
    *,
    force: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    on_status: StatusCallback | None = None,
) -> GenerationResult:
    """Generate until ``out`` holds ``config.num`` records, continuing what its journal holds.

    ``progress`` gets the fraction of ``num`` kept and a status line; ``on_status``, where given,
    gets the same as numbers — records kept, candidates dropped by reason (the filters' own
    words: "similar", "cut off", "too short"…), and what the teacher is doing — each time."""
    _check(seed_tasks, config)
    started = time.perf_counter()
    journal, batches = Journal.open(out, config.settings(seed_tasks, teacher), force)
    run = _Generation(seed_tasks, config, teacher)
    next_request = run.restore(batches)
    resumed_with = min(len(run.records), config.num)
    sampling = Sampling(
        config.sampling.temperature,
        config.sampling.top_p,
        config.sampling.max_tokens,
        tuple(stop_sequences(config.tasks_per_prompt)),
    )
    writer = _OutputWriter(out, config.num)

    def report(activity: str) -> None:
        progress(len(run.records) / config.num, run.status(activity))
        if on_status is not None:
            on_status(min(len(run.records), config.num), run.dropped, activity)

    writer.write(run.records)
    first_request = next_request
    limit = None if config.max_requests is None else first_request + config.max_requests
    asking = _Asking(teacher, seed_tasks, config, sampling, cancel, report)
    try:
        if len(run.records) < config.num:
            report("asking the teacher")
            with closing(asking.replies(next_request, limit)) as replies:
                for first, answers in replies:
                    batch = Batch(first, len(answers))
                    for reply in answers:
                        run.take(reply, batch)
                    journal.append(batch)  # on disk before anything else claims it
                    run.records.extend(batch.records)
                    run.dropped.update(batch.dropped)
                    next_request = first + len(answers)
                    writer.maybe_write(run.records)
                    if run.failed_in_a_row >= config.max_failed_replies:
                        raise TeacherReplyError(
                            f"The teacher's last {run.failed_in_a_row} replies held no task in "
                            f"the numbered Instruction/Input/Output form. The last one began: "
                            f"{run.last_failed[:300]!r}"
                        )
                    if len(run.records) >= config.num:
                        break
                    report("asking the teacher")
            report("")
    finally:
        writer.write(run.records)
    return GenerationResult(
        out,
        min(len(run.records), config.num),
        resumed_with,
        next_request - first_request,
        run.dropped,
        time.perf_counter() - started,
    )


RUN_AHEAD = 4  # batches asked at most beyond the oldest unanswered request
_Replies = Generator[tuple[int, list[Reply]], None, None]  # (first request, its replies)


class _Asking:
    """Asks the teacher for requests in order and hands back their replies in that order.

    A teacher that decodes separately asked prompts together (``concurrent``: a GGUF model on
    this machine, see ``gguf_teacher.py``) is kept busy with ``batch_size`` requests at all times:
    each one asked alone, the next asked as soon as one is answered. Asked a batch at a time, the
    whole batch waits for its longest reply while the slots of the shorter ones stand idle
    (measured in benchmarks/generate.py). Replies are still taken in request order, so the
    records kept are the same as batch by batch. Other teachers (servers) are asked a batch at a
    time, as Stanford did."""

    def __init__(
        self,
        teacher: Teacher,
        seed_tasks: list[Task],
        config: GenerationConfig,
        sampling: Sampling,
        cancel: CancelToken,
        report: Callable[[str], None],
    ) -> None:
        self.teacher, self.seed_tasks, self.config = teacher, seed_tasks, config
        self.sampling, self.cancel, self.report = sampling, cancel, report

    def prompt(self, request: int) -> str:
        config = self.config
        examples = prompt_examples(self.seed_tasks, config.seed, request, config.prompt_tasks)
        return encode_prompt(config.prompt_text, examples, config.tasks_per_prompt)

    def replies(self, start: int, limit: int | None) -> _Replies:
        """(first request, its replies) from ``start`` on, up to ``limit`` (exclusive)."""
        if getattr(self.teacher, "concurrent", False) and self.config.batch_size > 1:
            return self._in_flight(start, limit)
        return self._in_batches(start, limit)

    def _in_batches(self, start: int, limit: int | None) -> _Replies:
        request = start
        while limit is None or request < limit:
            self.cancel.check()
            size = self.config.batch_size
            if limit is not None:
                size = min(size, limit - request)
            requests = range(request, request + size)
            prompts = [self.prompt(r) for r in requests]
            seeds = [request_seed(self.config.seed, r) for r in requests]
            yield (
                request,
                self.teacher.generate(prompts, seeds, self.sampling, self.cancel, self.report),
            )
            request += size

    def _in_flight(self, start: int, limit: int | None) -> _Replies:
        size = self.config.batch_size
        stop = CancelToken()  # the requests still in flight when this ends or is cancelled

        def ask(request: int) -> list[Reply]:
            seed = request_seed(self.config.seed, request)
            return self.teacher.generate(
                [self.prompt(request)], [seed], self.sampling, stop, _quiet
            )

        pool = ThreadPoolExecutor(size, thread_name_prefix="huacaya-teacher-request")
        # In request order, answered or not. A slow reply holds back the taking, not the asking:
        # the others run ahead, up to a few batches (asked but unused when the run has enough).
        pending: deque[tuple[int, Future[list[Reply]]]] = deque()
        request = start
        try:
            while True:
                running = [f for _, f in pending if not f.done()]
                while (
                    len(running) < size
                    and len(pending) < RUN_AHEAD * size
                    and (limit is None or request < limit)
                ):
                    running.append(pool.submit(ask, request))
                    pending.append((request, running[-1]))
                    request += 1
                if not pending:
                    return
                first, future = pending[0]
                if future.done():
                    pending.popleft()
                    yield first, future.result()
                    continue
                if self.cancel.cancelled:
                    stop.cancel()
                    self.cancel.check()
                answered, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                if not answered:
                    self.report(f"asking the teacher: {len(running)} replies written at once")
        finally:
            stop.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


def _quiet(line: str) -> None:
    """A request's own activity lines: the runner reports for all of them together."""


def _check(seed_tasks: list[Task], config: GenerationConfig) -> None:
    if config.num < 1:
        raise DataGenerationError("--num must be at least 1.")
    if config.batch_size < 1:
        raise DataGenerationError("--batch-size must be at least 1.")
    if not 1 <= config.prompt_tasks <= len(seed_tasks):
        raise DataGenerationError(
            f"Each prompt shows {config.prompt_tasks} seed tasks, but there are {len(seed_tasks)}.",
            "Give more seed tasks, or lower --prompt-tasks.",
        )
    if config.tasks_per_prompt <= config.prompt_tasks:
        raise DataGenerationError(
            f"--tasks-per-prompt ({config.tasks_per_prompt}) must be more than the "
            f"{config.prompt_tasks} examples in the prompt.",
        )
    if config.dedup not in ("fast", "exhaustive"):
        raise DataGenerationError(f"Unknown de-duplication method “{config.dedup}”.")


class _OutputWriter:
    """Rewrites the Alpaca JSON atomically — not after every batch once it takes a while."""

    def __init__(self, out: Path, num: int) -> None:
        self.out = out
        self.num = num
        self.written = -1
        self.last = 0.0
        self.cost = 0.0

    def maybe_write(self, records: list[dict[str, object]]) -> None:
        if time.monotonic() - self.last >= max(2.0, 10 * self.cost) or len(records) >= self.num:
            self.write(records)

    def write(self, records: list[dict[str, object]]) -> None:
        count = min(len(records), self.num)
        if count == self.written and self.out.exists():
            return
        began = time.monotonic()
        atomic_write_text(
            self.out, json.dumps(records[:count], indent=2, ensure_ascii=False) + "\n"
        )
        self.written, self.last = count, time.monotonic()
        self.cost = self.last - began
