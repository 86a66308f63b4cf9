"""LoRA on a CPU: today's path (the defaults before issue 28) against the current defaults, on the
starter model, same records, same steps, interleaved (A, B, A, B) so the machine's load falls on
both.

    python benchmarks/train_lora_cpu.py [--base HF_DIR] [--data seed_tasks.jsonl]
                                        [--examples 32] [--global-batch 16] [--steps 3]
                                        [--rounds 2]

Today's path is reproduced by options: fp32 compute (``--precision fp32``), PyTorch's own
thread count (one per core) and alpaca-lora's dropout 0.05 on the adapters' input. A third way,
the current defaults with that dropout, shows the share of the speed-up that comes from dropping
it (``recipe.LORA_DROPOUT``). The current defaults are whatever ``huacaya-train --lora`` does
without options (bf16 frozen base under bf16 autocast where the CPU has AVX512-BF16 or AMX; the
threads the idle cores allow; packing, sdpa, no gradient checkpointing in both). Both go through
``conversion.train.run.train``. Without --base the starter GGUF is made into a checkpoint the way
``huacaya-train --base`` does (``gguf_base``), once cold and once from the cache: both times are
printed.

Printed per way: tokens/s over the steps after the first, the first step's time, the peak
resident memory during the run, and the first step's loss (fp32 vs bf16: precision's share).
Goal: current / today ≥ 2× tokens/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Way:
    label: str
    options: dict
    speeds: list[float] = field(default_factory=list)
    first_steps: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    precision: str = ""


class PeakMemory:
    """The process's peak resident memory while the block runs (sampled every 0.1 s)."""

    def __enter__(self) -> PeakMemory:
        import psutil

        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def starter_base(cache: Path) -> Path:
    from conversion.train.gguf_base import checkpoint_from_gguf
    from desktop.core.models.starter import starter_model_path

    gguf = starter_model_path()
    started = time.perf_counter()
    made = checkpoint_from_gguf(gguf, cache)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    again = checkpoint_from_gguf(gguf, cache)
    cached = time.perf_counter() - started
    print(
        f"base: {gguf.name} → checkpoint in {cold:.1f} s the first time, {cached:.2f} s from "
        f"the cache (reused: {again.reused})"
    )
    return made.checkpoint


def run_once(way: Way, base: Path, args: argparse.Namespace, out: Path) -> None:
    from conversion.train.recipe import TrainConfig
    from conversion.train.run import train
    from conversion.train.run_record import read_manifest, read_metrics

    config = TrainConfig(
        base=str(base),
        data=str(args.data),
        out=str(out),
        limit=args.examples,
        global_batch=args.global_batch,
        max_steps=args.steps,
        save_steps=0,
        lora=True,
        **way.options,
    )
    with PeakMemory() as memory:
        result = train(config)
    rows = read_metrics(result.out / "metrics.csv")
    later = rows[1:] or rows
    seconds = sum(r.seconds or 0.0 for r in later)
    tokens = sum(r.tokens_per_second * (r.seconds or 0.0) for r in later)
    manifest = read_manifest(result.out) or {}
    way.speeds.append(tokens / seconds if seconds else 0.0)
    way.first_steps.append(rows[0].seconds or 0.0)
    way.peaks.append(memory.peak / 2**30)
    way.losses.append(rows[0].loss)
    way.threads.append(int((manifest.get("cpu_threads") or {}).get("threads", 0)))
    way.precision = (manifest.get("precision") or {}).get("compute", "")
    print(
        f"  {way.label}: {way.speeds[-1]:,.0f} tokens/s, first step {way.first_steps[-1]:.1f} s, "
        f"peak {way.peaks[-1]:.2f} GiB, step-1 loss {way.losses[-1]:.5f}, "
        f"{way.threads[-1]} threads, {way.precision}; {load()}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="HF checkpoint folder (default: the starter)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/alpaca/seed_tasks.jsonl")
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch

    from conversion.train.recipe import ALPACA_LORA

    alpaca_dropout = ALPACA_LORA["lora_dropout"]
    print(f"start: {load()}")
    torch_threads = torch.get_num_threads()  # what a run without --threads had before
    ways = [
        Way(
            "today (fp32, torch's threads)",
            {"precision": "fp32", "threads": torch_threads, "lora_dropout": alpaca_dropout},
        ),
        Way("current defaults", {}),
        Way("defaults, dropout 0.05", {"lora_dropout": alpaca_dropout}),
    ]
    with tempfile.TemporaryDirectory(prefix="huacaya-bench-lora-") as tmp:
        work = Path(tmp)
        base = args.base or starter_base(work / "cache")
        # the process's first steps pay for warming up (allocator, oneDNN's kernels): measured
        # 25.7 s for a first step that took 9 s later, so each way runs one step uncounted first
        print("warm-up (not counted)")
        one_step = argparse.Namespace(**{**vars(args), "steps": 1})
        for index, way in enumerate(ways):
            run_once(Way(way.label, way.options), base, one_step, work / f"warm-up-{index}")
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}/{args.rounds}")
            for index, way in enumerate(ways):
                run_once(way, base, args, work / f"run-{round_number}-{index}")

    print(f"\nend: {load()}")
    print(
        f"{'way':<32}{'tokens/s':>10}{'first step':>12}{'peak GiB':>10}{'loss 1':>10}{'threads':>9}"
    )
    for way in ways:
        print(
            f"{way.label:<32}{statistics.median(way.speeds):>10,.0f}"
            f"{statistics.median(way.first_steps):>11.1f}s{max(way.peaks):>10.2f}"
            f"{way.losses[0]:>10.5f}{'/'.join(map(str, way.threads)):>9}"
        )
    today, current, with_dropout = ways
    ratio = statistics.median(current.speeds) / statistics.median(today.speeds)
    kept = statistics.median(with_dropout.speeds) / statistics.median(today.speeds)
    pairs = zip(today.speeds, current.speeds, strict=True)
    per_round = ", ".join(f"{b / a:.2f}×" for a, b in pairs)
    print(
        f"\ncurrent / today: {ratio:.2f}× tokens/s (median; per round {per_round}; goal ≥ 2×), "
        f"step-1 loss {current.losses[0]:.5f} vs {today.losses[0]:.5f} "
        f"(Δ {current.losses[0] - today.losses[0]:+.5f}, {current.precision} vs fp32); "
        f"{args.steps} steps × {args.global_batch} examples per way and round"
    )
    print(
        f"with alpaca-lora's dropout kept: {kept:.2f}× (step-1 loss {with_dropout.losses[0]:.5f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
