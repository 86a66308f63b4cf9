"""Conversion speed and memory: the SmolLM2 checkpoint to f16 and to Q4_K_M.

    python benchmarks/convert.py [--checkpoint HF_DIR]

Without --checkpoint it builds SmolLM2-135M-Instruct in Hugging Face format from the starter
GGUF first (needs the train extra). Each step runs in a fresh process so its peak RSS is its
own; the process's RSS right after imports is printed too, so the figure to compare with the
largest tensor is the difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEP = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from conversion.convert import convert
from conversion.quantize import quantize

def peak_kb():
    # VmHWM starts afresh with each program; ru_maxrss on Linux keeps the forking parent's.
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

baseline = peak_kb()
started = time.perf_counter()
if {kind!r} == "f16":
    convert({src!r}, {dst!r}, "f16", force=True)
else:
    quantize({src!r}, {dst!r}, "q4_k_m", force=True)
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "baseline_kb": baseline,
                  "peak_kb": peak_kb(),
                  "child_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}}))
"""


def run_step(kind: str, src: Path, dst: Path) -> dict:  # type: ignore[type-arg]
    code = STEP.format(root=str(ROOT), kind=kind, src=str(src), dst=str(dst))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, help="HF checkpoint folder (default: build)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="huacaya-bench-") as tmp:
        work = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None:
            from desktop.core.starter import starter_model_path
            from tests.conversion.checkpoints import build_smollm_checkpoint

            checkpoint = build_smollm_checkpoint(starter_model_path(), work / "smollm2-hf")
        from conversion.safetensors import SafetensorsCheckpoint

        with SafetensorsCheckpoint.open(checkpoint) as weights:
            source_bytes = weights.total_bytes()
            largest = max(weights.ref(n).nbytes for n in weights.names())
            largest_f32 = max(
                weights.ref(n).nbytes * 4 // (2 if weights.ref(n).dtype != "F32" else 4)
                for n in weights.names()
            )
        f16 = work / "model-f16.gguf"
        q4 = work / "model-q4_k_m.gguf"
        to_f16 = run_step("f16", checkpoint, f16)
        to_q4 = run_step("q4", f16, q4)

    mb = 1e6
    print(
        f"checkpoint: {checkpoint.name}, {source_bytes / mb:,.1f} MB of weights; "
        f"largest tensor {largest / mb:,.1f} MB ({largest_f32 / mb:,.1f} MB as float32)"
    )
    print(
        f"{'step':<18}{'seconds':>9}{'MB/s':>9}{'peak RSS':>12}{'after imports':>15}"
        f"{'peak − imports':>16}"
    )
    for label, row, peak_key in (
        ("HF → f16 GGUF", to_f16, "peak_kb"),
        ("f16 → Q4_K_M", to_q4, "child_peak_kb"),
    ):
        peak = row[peak_key] * 1024
        base = row["baseline_kb"] * 1024
        rate = source_bytes / row["seconds"] / mb
        print(
            f"{label:<18}{row['seconds']:>9.2f}{rate:>9.1f}{peak / mb:>9.0f} MB"
            f"{base / mb:>12.0f} MB{(peak - base) / mb:>13.0f} MB"
        )
    print("(the quantizer runs in a spawned process: its peak is that process's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
