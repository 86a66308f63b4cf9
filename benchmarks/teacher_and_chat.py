"""The window's chat while a local teacher makes data in the same process, as in "Make your own".

    python benchmarks/teacher_and_chat.py [--model PATH] [--tokens 96] [--rounds 3] [--scoring]

The Data step's GGUF teacher takes the cores that are idle when it is loaded (every core of an
idle computer), so a chat answer asked meanwhile shares a core with it. The window opens its
teacher at a lower CPU priority (``background``), so the answer keeps its pace and the teacher
slows down while it runs. This prints the chat's generation speed (tokens/s, prompt excluded)
alone, beside a teacher at normal priority and beside one in the background, interleaved, and the
teacher's own tokens/s over each answer. Goal: the chat beside the background teacher within 10%
of alone. ``--scoring``: the same with the teacher scoring answers ("Score answers": Stanford's
seed tasks, scored over and over) rather than generating; its rate is of tokens scored.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conversion.decoding.model import GgufModel  # noqa: E402
from conversion.decoding.scoring import TokenScorer  # noqa: E402
from conversion.errors import Cancelled  # noqa: E402
from conversion.progress import CancelToken  # noqa: E402
from conversion.selfinstruct.gguf_teacher import GgufTeacher  # noqa: E402
from conversion.selfinstruct.teachers import Sampling  # noqa: E402
from desktop.core.chat.engine import ChatEngine  # noqa: E402
from desktop.core.models.starter import starter_model_path  # noqa: E402
from desktop.core.settings import GenerationSettings  # noqa: E402

QUESTION = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
TEACHER_PROMPT = "Come up with 20 diverse tasks, one per line:\n1."


class Busy:
    """The teacher kept busy as the data runner keeps it: ``slots`` requests at a time, each
    asked on its own thread, the next as soon as one ends. Its tokens are counted as they come,
    16 at a time (the teacher's progress reports), so the rate over a chat answer is close."""

    def __init__(self, teacher: GgufTeacher, slots: int) -> None:
        self.teacher = teacher
        self.tokens = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel = CancelToken()
        self._threads = [
            threading.Thread(target=self._ask, args=(slot,), daemon=True) for slot in range(slots)
        ]

    def _seen(self, _text: str) -> None:  # called every 16 pieces of a reply
        with self._lock:
            self.tokens += 16

    def _ask(self, seed: int) -> None:
        sampling = Sampling(max_tokens=512)
        while not self._stop.is_set():
            try:
                self.teacher.generate([TEACHER_PROMPT], [seed], sampling, self._cancel, self._seen)
            except Cancelled:  # at the end
                return
            seed += len(self._threads)

    def __enter__(self) -> Busy:
        for thread in self._threads:
            thread.start()
        time.sleep(2.0)  # its prompts evaluated; it is decoding
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._cancel.cancel()
        for thread in self._threads:
            thread.join()


class BusyScoring:
    """The teacher's scorer kept busy as "Score answers" keeps it, counting tokens scored."""

    def __init__(self, scorer: TokenScorer, pairs: list[tuple[list[int], list[int]]]) -> None:
        self.scorer, self.pairs = scorer, pairs
        self.tokens = 0
        self._cancel = CancelToken()
        self._thread = threading.Thread(target=self._score, daemon=True)

    def _seen(self, index: int, _score: float | None) -> None:
        self.tokens += sum(len(part) for part in self.pairs[index])

    def _score(self) -> None:
        while True:
            try:
                self.scorer.mean_logprobs(self.pairs, self._cancel, self._seen)
            except Cancelled:
                return

    def __enter__(self) -> BusyScoring:
        self._thread.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._cancel.cancel()
        self._thread.join()


def answer(chat: ChatEngine, tokens: int) -> float:
    chat.forget_cache()
    response = chat.stream(QUESTION, GenerationSettings(temperature=0.0, max_tokens=tokens, seed=1))
    response.text()
    assert response.stats is not None
    return response.stats.tokens_per_second


def interleaved(
    chat: ChatEngine, busy: dict[str, Callable[[], Busy | BusyScoring]], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """The chat's tokens/s alone and beside each way's busy job, interleaved (drifting load
    falls on every way), and the job's own tokens/s over each answer."""
    chat_rates: dict[str, list[float]] = {}
    job_rates: dict[str, list[float]] = {}
    answer(chat, 8)  # warm-up
    for _ in range(args.rounds):
        chat_rates.setdefault("alone", []).append(answer(chat, args.tokens))
        for way, start in busy.items():
            with start() as job:
                before, started = job.tokens, time.perf_counter()
                chat_rates.setdefault(way, []).append(answer(chat, args.tokens))
                seconds = time.perf_counter() - started
                job_rates.setdefault(way, []).append((job.tokens - before) / seconds)
    return chat_rates, job_rates


def table(
    header: str, beside: str, rates: tuple[dict[str, list[float]], dict[str, list[float]]]
) -> None:
    chat_rates, job_rates = rates
    alone = statistics.median(chat_rates["alone"])
    print(f"{'chat':<36}{'chat tokens/s':>14}{'vs alone':>10}{header:>18}")
    print(f"{'alone':<36}{alone:>14.1f}{1.0:>9.2f}×{'':>18}")
    for way, made in job_rates.items():
        rate = statistics.median(chat_rates[way])
        print(
            f"{beside + way:<36}{rate:>14.1f}{rate / alone:>9.2f}×{statistics.median(made):>18.1f}"
        )


WAYS = (("normal priority", False), ("background", True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=96, help="per chat answer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slots", type=int, default=5, help="the teacher's (the default 5)")
    parser.add_argument("--scoring", action="store_true", help="the teacher scores answers")
    args = parser.parse_args()
    path = args.model or starter_model_path()
    chat = ChatEngine(path, context_length=1024)  # the window's defaults: one core left free
    chat.load()
    if args.scoring:
        return _beside_scoring(chat, path, args)
    teachers = {
        way: GgufTeacher(path, context_length=1024, parallel=args.slots, background=background)
        for way, background in WAYS
    }
    try:
        rates = interleaved(
            chat, {way: partial(Busy, t, args.slots) for way, t in teachers.items()}, args
        )
    finally:
        chat.close()
        for teacher in teachers.values():
            teacher.close()
    threads = next(iter(teachers.values())).threads
    print(
        f"model: {path.name}; chat {chat.threads} thread(s); teacher {threads.threads} threads "
        f"({threads.reason}), {args.slots} slots; {args.rounds} rounds of {args.tokens} tokens"
    )
    table("teacher tokens/s", "beside a teacher, ", rates)
    return 0


def _beside_scoring(chat: ChatEngine, path: Path, args: argparse.Namespace) -> int:
    from benchmarks.scoring import pairs_for

    model = GgufModel.load(path)
    pairs = pairs_for(model, 32)
    scorers = {
        way: TokenScorer(model, sequences=8, background=background) for way, background in WAYS
    }
    try:
        rates = interleaved(
            chat, {way: partial(BusyScoring, s, pairs) for way, s in scorers.items()}, args
        )
    finally:
        chat.close()
        for scorer in scorers.values():
            scorer.close()
        model.close()
    threads = next(iter(scorers.values())).threads
    print(
        f"model: {path.name}; chat {chat.threads} thread(s); scorer {threads.threads} threads "
        f"({threads.reason}); {args.rounds} rounds of {args.tokens} tokens"
    )
    table("scored tokens/s", "beside scoring, ", rates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
