"""How fast answers are with each thread count, on an idle computer and with other busy programs.

    python benchmarks/threads.py [--model PATH] [--tokens 64] [--rounds 3] [--busy 1]

llama.cpp's threads wait for each other at every layer, so a thread whose core another program
holds slows every token down. This prints generation speed (tokens per second, prompt excluded)
for 1…N threads with no other load and with ``--busy`` processes spinning on the CPU, in the
same run and interleaved, and marks the app's default (``hardware.default_threads()``): it
should lose little when idle and keep its speed when the computer is busy.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop.core import hardware  # noqa: E402
from desktop.core.chat.engine import ChatEngine  # noqa: E402
from desktop.core.models.starter import starter_model_path  # noqa: E402
from desktop.core.settings import GenerationSettings  # noqa: E402

QUESTION = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def spin(stop) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def speed(engine: ChatEngine, tokens: int) -> float:
    engine.forget_cache()
    settings = GenerationSettings(temperature=0.0, max_tokens=tokens, seed=1)
    response = engine.stream(QUESTION, settings)
    response.text()
    assert response.stats is not None
    return response.stats.tokens_per_second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=1, help="other busy processes")
    args = parser.parse_args()
    path = args.model or starter_model_path()
    cores = hardware.physical_cores()
    default = hardware.default_threads()
    counts = list(range(1, cores + 1))
    engines = {n: ChatEngine(path, context_length=512, threads=n) for n in counts}
    for engine in engines.values():
        engine.load()
    results: dict[tuple[int, str], list[float]] = {}
    context = multiprocessing.get_context("spawn")
    for _ in range(args.rounds):  # interleaved, so drifting load affects all alike
        for load in ("idle", "busy"):
            stop = context.Event()
            spinners = [context.Process(target=spin, args=(stop,)) for _ in range(args.busy)]
            if load == "busy":
                for process in spinners:
                    process.start()
                time.sleep(0.5)
            try:
                for n in counts:
                    results.setdefault((n, load), []).append(speed(engines[n], args.tokens))
            finally:
                stop.set()
                for process in spinners:
                    if process.pid is not None:
                        process.join()
    print(
        f"{path.name}, {cores} physical cores, {args.busy} busy process(es), "
        f"median of {args.rounds}"
    )
    print(f"{'threads':>8} {'idle tok/s':>11} {'busy tok/s':>11} {'busy/idle':>10}")
    for n in counts:
        idle = statistics.median(results[(n, "idle")])
        busy = statistics.median(results[(n, "busy")])
        mark = "  ← default" if n == default else ""
        print(f"{n:>8} {idle:>11.1f} {busy:>11.1f} {busy / idle:>10.2f}{mark}")
    for engine in engines.values():
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
