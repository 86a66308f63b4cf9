"""ChatEngine against plain llama-cpp-python: same model, prompt, threads, greedy decoding.

    python benchmarks/engine.py [--model FILE.gguf] [--tokens 128] [--rounds 5]

Runs the two alternately (so drift in machine load hits both), from an empty cache each time,
and prints the median tokens/s and time to first token of each and their ratio. The engine
decodes through the batched decoder (one slot), on the CPU without llama.cpp's flash attention
(conversion/decoding/decoder.py says why); the raw Llama is given the same attention, so that the
ratio measures the engine's own cost.
Goal: ChatEngine ≥ 0.97 × raw throughput.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import conversion  # noqa: F401  first: how llama.cpp's threads wait (conversion/openmp.py)

# isort: split
import llama_cpp

from conversion import llama_log
from desktop.core import hardware
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.starter import starter_model_path
from desktop.core.settings import GenerationSettings

PROMPT = "Write a long story about a lighthouse keeper who befriends a seagull."
GOAL = 0.97


def run_engine(engine: ChatEngine, tokens: int) -> tuple[float, float, int]:
    engine.forget_cache()
    settings = GenerationSettings(temperature=0.0, max_tokens=tokens, repeat_penalty=1.0)
    response = engine.stream([{"role": "user", "content": PROMPT}], settings)
    for _ in response:
        pass
    stats = response.stats
    assert stats is not None
    return stats.tokens_per_second, stats.time_to_first_token, stats.generated_tokens


def run_raw(llama: llama_cpp.Llama, prompt: list[int], tokens: int) -> tuple[float, float, int]:
    llama.reset()
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    for chunk in llama.create_completion(
        prompt, max_tokens=tokens, temperature=0.0, repeat_penalty=1.0, stream=True
    ):
        if chunk["choices"][0]["finish_reason"] is not None:
            break  # the closing chunk carries no token
        last = time.perf_counter()
        first = first or last
        count += 1
    rate = (count - 1) / (last - first) if count > 1 and last > first else 0.0
    return rate, first - started, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=hardware.physical_cores())
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()
    model = args.model or starter_model_path()

    engine = ChatEngine(model, context_length=args.ctx, threads=args.threads, gpu_layers=0)
    engine.load()
    prompt_text = engine.render_prompt([{"role": "user", "content": PROMPT}])
    prompt = engine.tokenize(prompt_text.text, add_special=prompt_text.add_special)
    llama_log.install()
    raw = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=args.ctx,
        n_batch=min(512, args.ctx),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_gpu_layers=0,
        flash_attn=False,  # the same attention as the engine's on the CPU
        verbose=False,
    )

    run_engine(engine, 16)  # warm-up both
    run_raw(raw, prompt, 16)
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(run_engine(engine, args.tokens))
        theirs.append(run_raw(raw, prompt, args.tokens))
    engine.close()
    raw.close()

    def medians(rows: list[tuple[float, float, int]]) -> tuple[float, float, float]:
        return tuple(statistics.median(column) for column in zip(*rows, strict=True))  # type: ignore[return-value]

    ours_rate, ours_ttft, ours_n = medians(ours)
    raw_rate, raw_ttft, raw_n = medians(theirs)
    ratio = ours_rate / raw_rate if raw_rate else float("nan")
    print(
        f"model: {model.name}; prompt {len(prompt)} tokens; {args.threads} threads; "
        f"{args.rounds} rounds of up to {args.tokens} tokens, greedy"
    )
    print(f"{'':<26}{'tokens/s':>10}{'first token':>14}{'tokens':>8}")
    for label, (rate, ttft, count) in (
        ("ChatEngine", (ours_rate, ours_ttft, ours_n)),
        ("llama-cpp-python (raw)", (raw_rate, raw_ttft, raw_n)),
    ):
        print(f"{label:<26}{rate:>10.1f}{ttft * 1000:>11.1f} ms{count:>8.0f}")
    verdict = "meets" if ratio >= GOAL else "MISSES"
    print(f"throughput ratio ChatEngine/raw: {ratio:.3f} ({verdict} the goal of ≥ {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
