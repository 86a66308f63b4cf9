"""A local teacher making data while another program gets busy, and stops, on the same machine.

    python benchmarks/teacher_under_load.py [--model PATH] [--rounds 1] [--slots 5]

The teacher takes the cores idle when it is loaded (every core of an idle machine). Another
program that later keeps a core busy shares it with one of the teacher's threads, and llama.cpp
waits for that thread at every layer. Two ways, interleaved: the threads fixed at the first
choice (as before: ``--threads N``, the same N), and following the load (the default now:
``conversion/cpu_threads.ThreadWatch`` re-chooses between steps). Each way decodes alone, then
beside a busy program (a process spinning on one core; measured after it had ``--settle``
seconds to react), then alone again; printed: the teacher's tokens/s in each phase, and the busy
program's own progress (its loop turns per second) beside each way.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.teacher_and_chat import Busy  # noqa: E402
from conversion.selfinstruct.gguf_teacher import GgufTeacher  # noqa: E402
from desktop.core.models.starter import starter_model_path  # noqa: E402


def spin(turns: Any, stop: Any) -> None:
    """Another program keeping one core busy; counts its loop's turns."""
    count = 0
    while not stop.is_set():
        for _ in range(100_000):
            count += 1
        turns.value = count


def rate(busy: Busy, seconds: float) -> float:
    before, started = busy.tokens, time.perf_counter()
    time.sleep(seconds)
    return (busy.tokens - before) / (time.perf_counter() - started)


def measure(teacher: GgufTeacher, args: argparse.Namespace) -> tuple[float, float, float, float]:
    """Tokens/s alone, beside the busy program, alone again; and the busy program's turns/s."""
    with Busy(teacher, args.slots) as busy:
        alone = rate(busy, args.window)
        processes = multiprocessing.get_context("spawn")  # not a fork of a process decoding
        turns: Any = processes.Value("q", 0)
        stop = processes.Event()
        other = processes.Process(target=spin, args=(turns, stop), daemon=True)
        other.start()
        time.sleep(args.settle)
        began, started = turns.value, time.perf_counter()
        beside = rate(busy, args.window)
        other_rate = (turns.value - began) / (time.perf_counter() - started)
        stop.set()
        other.join()
        time.sleep(args.settle)
        again = rate(busy, args.window)
    return alone, beside, again, other_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--slots", type=int, default=5, help="the teacher's (the default 5)")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to react first")
    args = parser.parse_args()
    path = args.model or starter_model_path()
    following = GgufTeacher(path, context_length=1024, parallel=args.slots)
    first = following.threads
    fixed = GgufTeacher(path, context_length=1024, parallel=args.slots, threads=first.threads)
    ways = {"threads fixed (before)": fixed, "threads follow the load": following}
    results: dict[str, list[tuple[float, float, float, float]]] = {way: [] for way in ways}
    try:
        for _ in range(args.rounds):
            for way, teacher in ways.items():
                results[way].append(measure(teacher, args))
    finally:
        for teacher in ways.values():
            teacher.close()
    print(
        f"model: {path.name}; teacher {first.threads} threads at the start ({first.reason}), "
        f"{args.slots} slots; {args.rounds} round(s), {args.window:.0f} s per phase"
    )
    heads = ("alone", "beside a busy program", "alone again", "its turns/s")
    print(f"{'way':<26}{heads[0]:>9}{heads[1]:>23}{heads[2]:>13}{heads[3]:>13}")
    medians = {}
    for way, runs in results.items():
        m = [statistics.median(r[i] for r in runs) for i in range(4)]
        medians[way] = m
        print(f"{way:<26}{m[0]:>9.1f}{m[1]:>23.1f}{m[2]:>13.1f}{m[3] / 1e6:>12.1f}M")
    before, now = medians["threads fixed (before)"], medians["threads follow the load"]
    print(f"beside a busy program, following / fixed: {now[1] / before[1]:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
