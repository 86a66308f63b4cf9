"""Training speed on one GPU: Stanford's way against ours, FSDP and DeepSpeed, same model, same
data, same steps, in one run of at most a few minutes.

    python benchmarks/train_gpu.py [--size 1b] [--steps 8] [--budget-seconds 450] [--out DIR]
    python benchmarks/train_gpu.py --dry-run      # a tiny model and two steps (CPU or GPU)

The model is LLaMA-shaped, built from a config with random weights (no download) and saved in
bf16 like released checkpoints: "1b" is
TinyLlama's shape (2048 wide, 22 layers, 32 heads, 4 KV heads, 5632 MLP) with SmolLM2's
vocabulary, about 1.1B parameters. The tokenizer is SmolLM2's, built from the starter GGUF (or
``--tokenizer DIR``, a Hugging Face tokenizer folder). The records are Alpaca-shaped, made up
here (instruction, an input for 40% of them, an output; Alpaca's length spread).

Each way runs ``huacaya-train`` in a process of its own (FSDP and DeepSpeed under ``torchrun
--nproc_per_node 1``), one optimizer step = 128 examples, Stanford's learning rate and schedule,
and is read back from its ``metrics.csv`` and ``manifest.json``. Printed: seconds per step and
real tokens/s (median after the first step), the speed-up over Stanford's way, MFU, peak GPU
memory, the loss at every step, and the fraction of weight elements the run changed. Last, a
projection of Stanford's LLaMA-7B run (52K examples × 3 epochs) on one 80 GB GPU from the
measured MFU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
               num_attention_heads=32, num_key_value_heads=4),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2),
}  # fmt: skip
TORCHRUN = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
WAYS = [  # label, under torchrun, options, needs CUDA
    ("Stanford's way: padded, per-device 4", False, ["--no-packing"], False),
    ("ours: token budget", False, [], False),
    ("ours, FSDP (torchrun, 1 process)", True, ["--fsdp"], True),
    ("ours, DeepSpeed ZeRO-3 (torchrun, 1)", True, ["--deepspeed", "zero3"], True),
    ("ours: token budget, sdpa rows", False, ["--attention", "sdpa"], False),
    ("ours: --lean (bf16 + Kahan)", False, ["--lean"], True),
    ("ours: + torch.compile", False, ["--compile"], True),
]  # fmt: skip
WORDS = (
    "the of and to in is that for it as with was on be by this are or from at an which have not "
    "they you we can more one all would their there what so about when time also how people "
    "water world after make first could through long between under house small large number "
    "write explain describe list give name create summarize translate classify suggest compare "
    "story poem email sentence paragraph reason example idea plan answer question data result "
    "health science music history city river mountain energy market company product customer "
    "because however therefore although while during before until since against among within"
).split()
STANFORD_EXAMPLES, STANFORD_EPOCHS = 52_002, 3
LLAMA_7B = dict(hidden=4096, ffn=11008, layers=32, heads=32, vocab=32_001)
H100_BF16_TFLOPS = 989.5


def sentence(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def records(count: int, seed: int = 0) -> list[dict[str, str]]:
    """Alpaca-shaped: instructions of 6–25 words, an input for 40%, outputs of 1–200 words with
    a long tail, as in Stanford's data (median output about 40 words)."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        length = min(int(rng.lognormvariate(3.6, 0.8)), 300)
        made.append(
            {
                "instruction": sentence(rng, 6, 25),
                "input": sentence(rng, 5, 40) if rng.random() < 0.4 else "",
                "output": sentence(rng, max(1, length // 2), max(1, length)),
            }
        )
    return made


def build_model(size: str, tokenizer_dir: Path, out: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **SIZES[size],
    )
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(config)
    # saved in bf16, as released checkpoints are: every way then starts from the same weights
    # (ways that hold bf16 weights would otherwise start from a rounded copy of an fp32 init)
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    return out


def tokenizer_from_starter(out: Path) -> Path:
    from transformers import AutoTokenizer

    from desktop.core.models.starter import starter_model_path

    starter = starter_model_path()
    tokenizer = AutoTokenizer.from_pretrained(starter.parent, gguf_file=starter.name)
    tokenizer.save_pretrained(out)
    return out


def changed_fraction(before: Path, after: Path) -> float:
    """Weight elements whose value differs from the starting checkpoint's."""
    from safetensors import safe_open

    changed = total = 0
    files = sorted(before.glob("*.safetensors"))
    after_files = sorted(after.glob("*.safetensors"))
    handles = [safe_open(str(f), "pt") for f in after_files]
    where = {key: h for h in handles for key in h.keys()}  # noqa: SIM118
    for file in files:
        with safe_open(str(file), "pt") as source:
            for key in source.keys():  # noqa: SIM118
                if key not in where:
                    continue
                old = source.get_tensor(key).float()
                new = where[key].get_tensor(key).float()
                if old.shape != new.shape:  # the [PAD] row added to the embeddings
                    new = new[: old.shape[0]]
                changed += int((old != new).sum())
                total += old.numel()
    return changed / total if total else 0.0


def run_way(label, torchrun, options, base, data, out, args, timeout, log) -> dict:  # type: ignore[no-untyped-def]
    python = [sys.executable, *TORCHRUN] if torchrun else [sys.executable]
    command = [
        *python, "-m", "conversion.train", "--base", str(base), "--data", str(data),
        "--out", str(out), "--max-steps", str(args.steps), "--global-batch", str(args.global_batch),
        "--save-steps", "0", "--max-length", "512", "--seed", "42", *options,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output = f"{exc.stdout or ''}{exc.stderr or ''}\nTIMED OUT after {timeout:.0f} s"
        code = -1
    wall = time.perf_counter() - started
    log.write(f"\n===== {label} ({wall:.0f} s, exit {code}) =====\n{' '.join(command)}\n{output}\n")
    log.flush()
    result = {"label": label, "ok": code == 0, "wall": wall}
    from conversion.train.run_record import read_manifest, read_metrics

    rows = read_metrics(out / "metrics.csv")
    manifest = read_manifest(out) or {}
    if rows:
        timed = rows[1:] or rows
        seconds = sorted(r.seconds for r in timed if r.seconds is not None)
        speeds = sorted(r.tokens_per_second for r in timed)
        mfus = sorted(r.mfu for r in timed if r.mfu is not None)
        result.update(
            steps=len(rows),
            seconds=seconds[len(seconds) // 2] if seconds else None,
            tokens_per_second=speeds[len(speeds) // 2],
            mfu=mfus[len(mfus) // 2] if mfus else None,
            peak=max((r.peak_memory_gib or 0.0) for r in rows),
            losses=[r.loss for r in rows],
        )
    result["precision"] = manifest.get("precision", {})
    result["batches"] = manifest.get("batches", {})
    if code == 0 and (out / "model").is_dir():
        result["changed"] = changed_fraction(base, out / "model")
    if code != 0:
        result["error"] = (output.strip().splitlines() or ["?"])[-1][:160]
    shutil.rmtree(out, ignore_errors=True)
    return result


def projection(data: Path, tokenizer_dir: Path, mfu: float) -> list[str]:
    """Stanford's LLaMA-7B run on one 80 GB GPU at the measured MFU, from the token counts of
    these records (SmolLM2's tokenizer; LLaMA's gives similar counts for English)."""
    from transformers import AutoTokenizer

    from conversion.train.data import load_training_data
    from conversion.train.examples import build_examples
    from conversion.train.speed import ModelFlops

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    examples = build_examples(load_training_data(str(data)).records, tokenizer, 512)
    n = len(examples)
    tokens = sum(len(e) for e in examples) / n
    trained = sum(e.trained_tokens for e in examples) / n
    pairs = sum(len(e) ** 2 for e in examples) / n
    m = LLAMA_7B
    linear = m["layers"] * (4 * m["hidden"] ** 2 + 3 * m["hidden"] * m["ffn"])
    flops = ModelFlops(linear, m["hidden"] * m["vocab"], m["layers"] * m["hidden"])
    per_example = flops.step(int(tokens), int(trained), int(pairs))
    total = per_example * STANFORD_EXAMPLES * STANFORD_EPOCHS
    parameters = linear + 2 * m["hidden"] * m["vocab"]
    lean_gb, full_gb = parameters * 10 / 1e9, parameters * 16 / 1e9
    recompute = total * 8 / 6  # gradient checkpointing runs each forward twice
    seconds = recompute / (mfu * H100_BF16_TFLOPS * 1e12)
    return [
        f"Projection, Stanford's LLaMA-7B run ({STANFORD_EXAMPLES:,} examples × "
        f"{STANFORD_EPOCHS} epochs, {tokens:.0f} tokens per example as these records) on one "
        "80 GB H100:",
        f"  model FLOPs {total:.3g}; weights + gradients + AdamW state: {full_gb:.0f} GB with "
        f"fp32 masters (does not fit), {lean_gb:.0f} GB with --lean (fits, with gradient "
        "checkpointing for the activations: FLOPs × 8/6)",
        f"  at the measured MFU {mfu:.0%} of {H100_BF16_TFLOPS:.0f} TFLOP/s: "
        f"{seconds / 3600:.2f} h  (Stanford: 3 h on 8 A100s)",
    ]


def table(results: list[dict], steps: int) -> list[str]:  # type: ignore[type-arg]
    reference = next((r for r in results if r.get("tokens_per_second")), None)
    base = reference["tokens_per_second"] if reference else None
    lines = [
        f"{'way':<40}{'s/step':>8}{'tokens/s':>10}{'speed-up':>9}{'MFU':>7}"
        f"{'peak GiB':>9}{'changed':>9}  loss at each step"
    ]
    for r in results:
        if not r.get("tokens_per_second"):
            lines.append(f"{r['label']:<40}  failed or skipped: {r.get('error', '')}")
            continue
        seconds = f"{r['seconds']:.2f}" if r.get("seconds") else "–"
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "–"
        changed = f"{r['changed']:.1%}" if "changed" in r else "–"
        losses = " ".join(f"{x:.3f}" for x in r["losses"])
        lines.append(
            f"{r['label']:<40}{seconds:>8}{r['tokens_per_second']:>10,.0f}"
            f"{r['tokens_per_second'] / base:>8.2f}×{mfu:>7}{r['peak']:>9.1f}{changed:>9}  "
            f"{losses}"
        )
    if reference:
        for r in results:
            if r is not reference and r.get("losses"):
                pairs = zip(r["losses"], reference["losses"], strict=False)
                gap = max(abs(a - b) for a, b in pairs)
                lines.append(f"  |loss − Stanford's way| ≤ {gap:.4f}  ({r['label']})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1b")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--global-batch", type=int, default=128)
    parser.add_argument("--budget-seconds", type=float, default=450.0)
    parser.add_argument("--tokenizer", type=Path, help="HF tokenizer folder (default: SmolLM2's)")
    parser.add_argument("--out", type=Path, help="folder for table.txt, results.json, rows.log")
    parser.add_argument("--ways", default="", help="comma-separated indices of WAYS to run")
    parser.add_argument("--dry-run", action="store_true", help="tiny model, 2 steps of 8")
    args = parser.parse_args()
    if args.dry_run:
        args.size, args.steps, args.global_batch = "tiny", 2, 8
    started = time.perf_counter()
    import torch

    cuda = torch.cuda.is_available()
    out = args.out or Path(tempfile.mkdtemp(prefix="huacaya-train-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="huacaya-train-gpu-work-"))
    tokenizer_dir = args.tokenizer or tokenizer_from_starter(work / "tokenizer")
    base = build_model(args.size, tokenizer_dir, work / "model")
    data = work / "alpaca-shaped.jsonl"
    made = records(args.steps * args.global_batch)
    data.write_text("\n".join(json.dumps(r) for r in made) + "\n", encoding="utf-8")
    device = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"{device}; model {args.size} ready after {time.perf_counter() - started:.0f} s")
    chosen = [int(i) for i in args.ways.split(",") if i.strip()] or range(len(WAYS))
    results = []
    with open(out / "rows.log", "w", encoding="utf-8") as log:
        for index in chosen:
            label, torchrun, options, needs_cuda = WAYS[index]
            left = args.budget_seconds - (time.perf_counter() - started)
            if needs_cuda and not cuda:
                results.append({"label": label, "error": "needs CUDA"})
                continue
            if left < 40:
                results.append({"label": label, "error": f"skipped: {left:.0f} s left"})
                continue
            result = run_way(
                label, torchrun, options, base, data, work / f"way{index}", args, left - 5, log
            )
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "batches"}), flush=True)
    lines = [
        f"{device}; LLaMA-shaped {args.size} model, random weights; {args.steps} steps × "
        f"{args.global_batch} examples; lr 2e-5, cosine, warmup 3%",
        *table(results, args.steps),
    ]
    ours = next((r for r in results if r["label"].startswith("ours: token") and r.get("mfu")), None)
    if ours and cuda:
        lines += projection(data, tokenizer_dir, ours["mfu"])
    lines.append(f"total {time.perf_counter() - started:.0f} s")
    text = "\n".join(lines)
    print("\n" + text)
    (out / "table.txt").write_text(text + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
