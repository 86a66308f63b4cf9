"""The local API against ChatEngine called directly: same model, threads, prompts, greedy.

    python benchmarks/server.py [--model NAME] [--tokens 128] [--rounds 5] [--clients 8]

Both run in this process (the server on its own threads, reached over loopback with the official
``openai`` client, streaming), alternately, each round with a new question so that neither is
served from a cache the other lacks. Speeds are measured the same way for both, from the
caller's side: time to the first text, and tokens per second from the first text to the last.
Then ``--clients`` clients ask at once: the total throughput with ``--parallel`` answers decoded
together, against the same requests one after another, and what the last in line waits.
Last, the window: its own one-slot engine answers alone, then while the API serves
``--clients`` clients (decoded together, then one at a time as before): its tokens/s must not
drop because the API batches.
Goal: API ≥ 0.95 × ChatEngine's tokens/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from desktop.core import hardware
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.library import ModelLibrary
from desktop.core.settings import GenerationSettings
from desktop.server.config import ServerConfig
from desktop.server.runner import ApiServer

GOAL = 0.95
TOPICS = ("a lighthouse keeper", "a seagull", "a clockmaker", "a desert town", "a red kite")


def question(i: int) -> list[dict[str, str]]:
    topic = TOPICS[i % len(TOPICS)]
    return [{"role": "user", "content": f"Write a long story about {topic} (version {i})."}]


def timed(deltas, started: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(time to first text, time of the last) of an iterator of text pieces."""
    first = last = 0.0
    for text in deltas:
        if text:
            last = time.perf_counter()
            first = first or last
    return first - started, last - started


def rate(tokens: int, first: float, last: float) -> float:
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0


def run_engine(engine: ChatEngine, i: int, settings: GenerationSettings) -> tuple[float, float]:
    started = time.perf_counter()
    response = engine.stream(question(i), settings)  # type: ignore[arg-type]
    first, last = timed(response, started)
    stats = response.stats
    assert stats is not None
    return rate(stats.generated_tokens, first, last), first


def run_api(api: openai.OpenAI, i: int, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    stream = api.chat.completions.create(
        model="",
        messages=question(i),  # type: ignore[arg-type]
        max_tokens=tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    usage = [0]

    def pieces():  # type: ignore[no-untyped-def]
        for chunk in stream:
            if chunk.usage is not None:
                usage[0] = chunk.usage.completion_tokens
            for choice in chunk.choices:
                yield choice.delta.content or ""

    first, last = timed(pieces(), started)
    return rate(usage[0], first, last), first, usage[0]


def clients_asking(
    api_url: str, clients: int, tokens: int, at_once: bool
) -> tuple[int, float, float]:
    """``clients`` clients asking at once (or one after another): (tokens produced, seconds for
    all, the slowest client's seconds)."""
    produced, latencies = [0] * clients, [0.0] * clients

    def client(n: int) -> None:
        with openai.OpenAI(base_url=api_url, api_key="x", max_retries=0, timeout=600) as api:
            started = time.perf_counter()
            reply = api.chat.completions.create(
                model="",
                messages=question(100 + n),
                max_tokens=tokens,
                temperature=0,  # type: ignore[arg-type]
            )
            latencies[n] = time.perf_counter() - started
            produced[n] = reply.usage.completion_tokens if reply.usage else 0

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
        if not at_once:
            thread.join()
    for thread in threads:
        thread.join()
    return sum(produced), time.perf_counter() - started, max(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="", help="a library name or id (default: starter)")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=8, help="the API's answers at once")
    parser.add_argument("--threads", type=int, default=hardware.default_threads())
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()

    library = ModelLibrary(Path(tempfile.mkdtemp(prefix="huacaya-bench-")))
    library.ensure_starter()
    entry = library.get(args.model) if args.model else library.default_entry()
    assert entry is not None, "no model installed"
    settings = GenerationSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=args.tokens)

    def started(parallel: int, background: bool = False) -> ApiServer:
        config = ServerConfig(
            port=0,
            context_length=args.ctx,
            threads=args.threads,
            gpu_layers=0,
            parallel=parallel,
            background=background,
        )
        api_server = ApiServer(config, library, lambda model: settings)
        api_server.start()
        api_server.preload()
        return api_server

    server = started(args.parallel)
    engine = ChatEngine(
        library.path_of(entry), context_length=args.ctx, threads=args.threads, gpu_layers=0
    )
    engine.load()
    api = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=600)
    try:
        run_engine(engine, -1, settings)  # warm-up both
        run_api(api, -1, args.tokens)
        direct, served, counts = [], [], []
        for i in range(args.rounds):
            direct.append(run_engine(engine, i, settings))
            rate_, ttft, n = run_api(api, i, args.tokens)
            served.append((rate_, ttft))
            counts.append(n)
        one_by_one, one_seconds, _ = clients_asking(server.url, args.clients, args.tokens, False)
        total, seconds, slowest = clients_asking(server.url, args.clients, args.tokens, True)
    finally:
        api.close()
        server.stop()
    # The window's engine beside the API: as before (one at a time), as Settings → Local API
    # starts it now (answers together, decoded in the background), and together at the same
    # priority as the window.
    window = {"alone": [run_engine(engine, 200 + i, settings)[0] for i in range(2)]}
    for parallel, background, label in (
        (1, False, "one at a time, as before"),
        (args.parallel, True, f"{args.parallel} at once, in the background: now"),
        (args.parallel, False, f"{args.parallel} at once, same priority"),
    ):
        inside = started(parallel, background)
        try:
            window[label] = window_while(engine, inside, args, settings)
        finally:
            inside.stop()
    engine.close()

    def median(rows: list[tuple[float, float]], column: int) -> float:
        return statistics.median(row[column] for row in rows)

    print(
        f"model: {entry.id}; {args.threads} threads; {args.rounds} rounds of up to "
        f"{args.tokens} tokens (median {statistics.median(counts):.0f}), greedy, streaming"
    )
    print(f"{'':<22}{'tokens/s':>10}{'first token':>14}")
    for label, rows in (("ChatEngine (direct)", direct), ("API (openai client)", served)):
        print(f"{label:<22}{median(rows, 0):>10.1f}{median(rows, 1) * 1000:>11.1f} ms")
    ratio = median(served, 0) / median(direct, 0)
    ttft_extra = (median(served, 1) - median(direct, 1)) * 1000
    verdict = "meets" if ratio >= GOAL else "MISSES"
    print(f"throughput ratio API/ChatEngine: {ratio:.3f} ({verdict} the goal of ≥ {GOAL})")
    print(f"time to first token through the API: {ttft_extra:+.1f} ms")
    together, alone = total / seconds, one_by_one / one_seconds
    print(
        f"{args.clients} clients at once ({args.parallel} answered together): {total} tokens in "
        f"{seconds:.1f} s = {together:.1f} tokens/s in total; the same requests one after "
        f"another: {alone:.1f} tokens/s (ratio {together / alone:.3f}); the last in line "
        f"waited {slowest:.1f} s"
    )
    base = statistics.median(window["alone"])
    print("the window's answer (its own engine, one slot), tokens/s:")
    for label, rates in window.items():
        where = "alone" if label == "alone" else f"while the API serves {args.clients} ({label})"
        value = statistics.median(rates)
        print(f"  {where:<72}{value:>7.1f}  ({value / base:.2f}× alone)")
    return 0


def window_while(
    engine: ChatEngine, server: ApiServer, args: argparse.Namespace, settings: GenerationSettings
) -> list[float]:
    """The window's tokens/s for answers asked while ``args.clients`` clients keep the API
    busy (the window asks once they have all started)."""
    busy = threading.Thread(
        target=clients_asking, args=(server.url, args.clients, args.tokens * 2, True)
    )
    busy.start()
    time.sleep(3.0)  # the clients are in: the API is answering
    rates = [run_engine(engine, 300 + i, settings)[0] for i in range(2)]
    busy.join()
    return rates


if __name__ == "__main__":
    sys.exit(main())
