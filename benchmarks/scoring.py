"""Scoring records (the Data step's teacher scores): ``TokenScorer`` packing several records per
llama.cpp step, against one record per step, and against llama-cpp-python's ``Llama`` with
``logits_all`` (a full vocabulary row for every prompt token too), in the same run, all on
``--threads``. Then the scorer as the Data step runs it, on its default threads (the cores idle
when it starts), against its default before: half the logical CPUs.

    python benchmarks/scoring.py [--records 16] [--sequences 8] [--threads 2] [--rounds 1]

Records are Stanford's seed tasks (``../shared/alpaca/seed_tasks.jsonl``), each rendered with
the starter model's chat template as ``score_records`` renders them. Printed: records/s of each
way and the ratios against llama-cpp-python, and the largest difference between their scores
(the three compute the same mean log-probability per output token).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import conversion  # noqa: F401  first: how llama.cpp's threads wait (conversion/openmp.py)

# isort: split
import llama_cpp
import numpy as np
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from conversion import llama_log
from conversion.decoding.model import GgufModel
from conversion.decoding.scoring import TokenScorer, log_softmax
from conversion.gguf_file import read_gguf_info
from desktop.core.models.starter import starter_model_path

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "alpaca" / "seed_tasks.jsonl"


def pairs_for(model: GgufModel, count: int) -> list[tuple[list[int], list[int]]]:
    info = read_gguf_info(model.path)
    chat = Jinja2ChatFormatter(info.chat_template or "", eos_token="", bos_token="")
    pairs = []
    for line in SEEDS.read_text(encoding="utf-8").splitlines()[:count]:
        task = json.loads(line)
        instance = task["instances"][0]
        question = task["instruction"] + (f"\n\n{instance['input']}" if instance["input"] else "")
        prompt = chat(messages=[{"role": "user", "content": question}]).prompt
        pairs.append(
            (model.tokenize(prompt), model.tokenize(instance["output"], add_special=False))
        )
    return pairs


def with_llama(path: Path, pairs: list[tuple[list[int], list[int]]], threads: int) -> list[float]:
    llama_log.install()
    llama = llama_cpp.Llama(
        model_path=str(path), n_ctx=2048, n_batch=512, logits_all=True, verbose=False,
        n_threads=threads, n_threads_batch=threads, n_gpu_layers=0,
    )  # fmt: skip
    scores = []
    try:
        for prompt, answer in pairs:
            tokens = [*prompt, *answer]
            llama.reset()
            llama.eval(tokens)
            logprobs = log_softmax(np.array(llama.scores[: len(tokens)], dtype=np.float32))
            picked = [logprobs[i - 1, tokens[i]] for i in range(len(prompt), len(tokens))]
            scores.append(float(sum(picked) / len(picked)))
    finally:
        llama.close()
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=16)
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    path = starter_model_path()
    model = GgufModel.load(path)
    pairs = pairs_for(model, args.records)
    tokens = sum(len(p) + len(a) for p, a in pairs)
    print(f"{len(pairs)} records, {tokens:,} tokens, {args.threads} threads, {path.name}")
    times: dict[str, list[float]] = {"llama-cpp-python": [], "one per step": [], "packed": []}
    defaults: dict[str, list[float]] = {"before": [], "now": []}
    before = max(1, (os.cpu_count() or 2) // 2)  # the scorer's default threads until now
    chosen = ""
    results: dict[str, list[float | None]] = {}
    for _ in range(args.rounds):
        began = time.perf_counter()
        results["llama-cpp-python"] = list(with_llama(path, pairs, args.threads))
        times["llama-cpp-python"].append(time.perf_counter() - began)
        for name, sequences in (("one per step", 1), ("packed", args.sequences)):
            began = time.perf_counter()
            with TokenScorer(model, sequences=sequences, threads=args.threads) as scorer:
                results[name] = scorer.mean_logprobs(pairs)
            times[name].append(time.perf_counter() - began)
        for name, threads in (("before", before), ("now", None)):
            with TokenScorer(model, sequences=args.sequences, threads=threads) as scorer:
                began = time.perf_counter()  # after the idle cores were sampled (0.5 s)
                scorer.mean_logprobs(pairs)
                defaults[name].append(time.perf_counter() - began)
                if threads is None:
                    chosen = f"{scorer.threads.threads} ({scorer.threads.reason})"
    model.close()
    base = statistics.median(times["llama-cpp-python"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"{name:>17}: {len(pairs) / median:7.1f} records/s  ({median:.2f} s; "
            f"{base / median:.2f}× llama-cpp-python)"
        )
    reference = results["llama-cpp-python"]
    for name in ("one per step", "packed"):
        gaps = [
            abs(a - b)
            for a, b in zip(results[name], reference, strict=True)
            if a is not None and b is not None
        ]
        print(
            f"{name:>17}: largest score difference from llama-cpp-python {max(gaps):.4f} nats/token"
        )
    then, now = statistics.median(defaults["before"]), statistics.median(defaults["now"])
    print(f"packed, default threads before, {before}: {len(pairs) / then:7.1f} records/s")
    print(f"packed, default threads now, {chosen}: {len(pairs) / now:7.1f} records/s")
    print(f"default threads now / before: {then / now:.2f}×")


if __name__ == "__main__":
    main()
