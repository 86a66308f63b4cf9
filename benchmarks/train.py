"""Training speed: Stanford's batches (random order, padded to the longest) against ours (packed),
same model, same examples, same steps, in one run.

    python benchmarks/train.py [--base HF_DIR] [--data seed_tasks.jsonl] [--examples 64]
                               [--global-batch 32] [--per-device-batch 4] [--steps 2] [--lora]

For each way it trains the same optimizer steps with ``conversion.train.run.train`` and prints
tokens per second (real tokens, padding not counted; the first step is left out as warm-up),
the padding fraction, the wall time, and the loss of the resulting model on the same examples
(token-weighted mean, computed identically for every way). Goal: ours ≥ 2× tokens/s at the same
loss. Without --base it builds SmolLM2-135M-Instruct in Hugging Face format from the starter
GGUF (needs the train extra); without --data it reads Stanford's seed tasks beside the checkout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WAYS = {
    "stanford (random, padded)": {"packing": False, "group_by_length": False},
    "length-grouped, padded": {"packing": False, "group_by_length": True},
    "ours (token budget)": {"packing": True, "group_by_length": False},
}
# where the CPU has bf16 arithmetic (AVX512-BF16, AMX): ours with bf16 autocast, fp32 weights
BF16_WAY = {"ours, --precision bf16": {"packing": True, "precision": "bf16"}}


def loss_on(model_dir: Path, examples, lora_base: str | None) -> float:  # type: ignore[no-untyped-def]
    """Token-weighted loss of a trained model on ``examples`` (one padded-free pass each)."""
    import torch
    from transformers import AutoModelForCausalLM

    if lora_base:
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(lora_base, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, model_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            ids = torch.tensor([example.input_ids])
            labels = torch.tensor([example.labels])
            n = int((labels[:, 1:] != -100).sum())
            if n:
                total += float(model(input_ids=ids, labels=labels).loss) * n
                count += n
    return total / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="HF checkpoint folder (default: build SmolLM2)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/alpaca/seed_tasks.jsonl")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--per-device-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--lora", action="store_true", help="LoRA instead of a full fine-tune")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from conversion.train.data import load_training_data
    from conversion.train.examples import build_examples
    from conversion.train.recipe import TrainConfig
    from conversion.train.run import train
    from conversion.train.run_record import read_manifest, read_metrics

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="huacaya-bench-train-") as tmp:
        work = Path(tmp)
        base = args.base
        if base is None:
            from benchmarks.checkpoints import build_smollm_checkpoint
            from desktop.core.models.starter import starter_model_path

            base = build_smollm_checkpoint(starter_model_path(), work / "smollm2-hf")
        tokenizer = AutoTokenizer.from_pretrained(base)
        records = load_training_data(str(args.data), limit=args.examples).records
        examples = build_examples(records, tokenizer, args.max_length)
        rows = []
        from conversion.train.precision import cpu_has_fast_bf16

        ways = {**WAYS, **(BF16_WAY if cpu_has_fast_bf16() else {})}
        for label, way in ways.items():
            config = TrainConfig(
                base=str(base),
                data=str(args.data),
                out=str(work / label.split()[0]),
                limit=args.examples,
                learning_rate=args.learning_rate,
                global_batch=args.global_batch,
                per_device_batch=args.per_device_batch,
                max_length=args.max_length,
                max_steps=args.steps,
                save_steps=10_000,
                lora=args.lora,
                threads=args.threads,
                **way,
            )
            started = time.perf_counter()
            result = train(config)
            seconds = time.perf_counter() - started
            metrics = read_metrics(result.out / "metrics.csv")
            timed = metrics[1:] or metrics
            speed = sum(r.tokens_per_second for r in timed) / len(timed)
            padding = (read_manifest(result.out) or {}).get("padding_fraction", 0.0)
            loss = loss_on(result.model_dir, examples, str(base) if args.lora else None)
            rows.append((label, speed, padding, seconds, loss))
            print(f"{label}: {speed:,.0f} tokens/s, padding {padding:.1%}, loss {loss:.4f}")

    print(
        f"\n{'way':<28}{'tokens/s':>10}{'padding':>9}{'seconds':>9}{'loss after':>12}{'speed':>8}"
    )
    reference = rows[0][1]
    for label, speed, padding, seconds, loss in rows:
        print(
            f"{label:<28}{speed:>10,.0f}{padding:>9.1%}{seconds:>9.1f}{loss:>12.4f}"
            f"{speed / reference:>7.2f}×"
        )
    ours, stanford = rows[2], rows[0]
    print(
        f"\nours / stanford: {ours[1] / stanford[1]:.2f}× tokens/s (goal ≥ 2×), "
        f"loss {ours[4]:.4f} vs {stanford[4]:.4f} (Δ {ours[4] - stanford[4]:+.4f}); "
        f"{args.steps} steps × {args.global_batch} examples, "
        f"{'LoRA' if args.lora else 'full fine-tune'}, {torch.get_num_threads()} threads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
