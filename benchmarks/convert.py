"""Conversion speed and memory per architecture: ours against llama.cpp's own converter, same run.

    python benchmarks/convert.py [--llama-cpp DIR] [--only llama,qwen2,…] [--no-quantize]

For each architecture a checkpoint is built (the train extra is needed): SmolLM2-135M-Instruct
from the starter GGUF (llama), all-MiniLM-L6-v2 from its package (bert), and for qwen2, qwen3,
gemma2, gemma3 and phi3 random bf16 weights of a small model (~100–250M parameters) with a
real vocabulary where llama.cpp's converter needs one (Qwen's, read from llama.cpp's test
vocabulary). Both converters write f16 from the same folder, each in a fresh process whose peak
RSS is read by wait4(); the outputs are then compared tensor by tensor.

llama.cpp's converter (convert_hf_to_gguf.py with its gguf-py) is taken from DIR, or from the
source distribution of the installed llama-cpp-python (the very llama.cpp the app runs),
downloaded once with pip into a cache folder. When it cannot be had or fails on an
architecture, the output says so: no figure is ever made up.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huacaya-bench"
ARCHITECTURES = ("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "bert")
SIZES = {  # a small model of each family: hidden, layers, heads, kv heads, ffn
    "qwen2": dict(hidden_size=896, num_hidden_layers=8, num_attention_heads=14,
                  num_key_value_heads=2, intermediate_size=4864, tie_word_embeddings=True),
    "qwen3": dict(hidden_size=1024, num_hidden_layers=6, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, intermediate_size=3072,
                  tie_word_embeddings=True),
    "gemma2": dict(hidden_size=1152, num_hidden_layers=8, num_attention_heads=4,
                   num_key_value_heads=1, head_dim=256, intermediate_size=6912,
                   query_pre_attn_scalar=256),
    "gemma3": dict(hidden_size=1152, num_hidden_layers=8, num_attention_heads=4,
                   num_key_value_heads=1, head_dim=256, intermediate_size=6912,
                   query_pre_attn_scalar=256),
    "phi3": dict(hidden_size=1536, num_hidden_layers=8, num_attention_heads=16,
                 num_key_value_heads=16, intermediate_size=4096, tie_word_embeddings=False),
}  # fmt: skip

OURS = """
import sys
sys.path.insert(0, sys.argv[1])
from conversion.convert import convert
convert(sys.argv[2], sys.argv[3], "f16", force=True)
"""
# Runs a script and reports its seconds and peak RSS from inside the process: VmHWM starts
# afresh at exec, while ru_maxrss of a child would include the parent's memory at fork.
MEASURED = """
import json, os, resource, runpy, sys, time
started = time.perf_counter()
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))  # as `python SCRIPT` would
runpy.run_path(sys.argv[0], run_name="__main__")
try:
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024
print("@@" + json.dumps({"seconds": time.perf_counter() - started, "peak_bytes": peak}))
"""


def measure(script: Path, *args: str) -> dict:  # type: ignore[type-arg]
    """Seconds and peak RSS of running ``script`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    report = [line for line in done.stdout.splitlines() if line.startswith("@@")]
    if done.returncode != 0 or not report:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {"error": lines[-1][:160] if lines else f"exit status {done.returncode}"}
    return json.loads(report[-1][2:])


# -- llama.cpp's converter ----------------------------------------------------------------


def llama_cpp_converter(explicit: Path | None) -> tuple[Path | None, str]:
    """(the llama.cpp tree holding convert_hf_to_gguf.py, or None; where it came from / why not)."""
    if explicit is not None:
        ok = (explicit / "convert_hf_to_gguf.py").is_file()
        return (
            (explicit, str(explicit)) if ok else (None, f"no convert_hf_to_gguf.py in {explicit}")
        )
    version = importlib.metadata.version("llama_cpp_python")
    tree = CACHE / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if (tree / "convert_hf_to_gguf.py").is_file():
        return tree, f"llama-cpp-python {version}'s llama.cpp (cached)"
    CACHE.mkdir(parents=True, exist_ok=True)
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"llama-cpp-python=={version}", "-d", str(CACHE)],
        capture_output=True, text=True,
    )  # fmt: skip
    archive = CACHE / f"llama_cpp_python-{version}.tar.gz"
    if download.returncode != 0 or not archive.is_file():
        return None, f"could not download llama-cpp-python {version}'s sources with pip"
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "models/ggml-vocab-qwen2.gguf")
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.removeprefix(prefix).startswith(wanted)]
        tar.extractall(CACHE, members=members, filter="data")
    return tree, f"llama-cpp-python {version}'s llama.cpp"


# -- checkpoints --------------------------------------------------------------------------


def build(kind: str, folder: Path, llama_cpp: Path | None) -> tuple[Path, str]:
    """A checkpoint folder of ``kind`` and a note on its vocabulary."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if kind == "llama":
        from benchmarks.checkpoints import build_smollm_checkpoint
        from desktop.core.models.starter import starter_model_path

        return build_smollm_checkpoint(starter_model_path(), folder), "SmolLM2's"
    if kind == "bert":
        from desktop.core.models.embedding_model import embedding_checkpoint

        return embedding_checkpoint(), "all-MiniLM-L6-v2's"
    from benchmarks.architectures import ARCHITECTURES, family_config

    _model_type, make_tokenizer, _ = ARCHITECTURES[kind]
    folder.mkdir(parents=True)
    vocab_file = llama_cpp / "models" / "ggml-vocab-qwen2.gguf" if llama_cpp else None
    if kind.startswith("qwen") and vocab_file is not None and vocab_file.is_file():
        tokenizer = AutoTokenizer.from_pretrained(vocab_file.parent, gguf_file=vocab_file.name)
        tokenizer.save_pretrained(folder)
        vocab_size, note = len(tokenizer), "Qwen2's real 151,936 tokens"
    else:
        vocab_size = make_tokenizer(folder)
        vocab_size, note = max(vocab_size, 32000), "a small trained one, padded to 32,000"
    config = family_config(kind, vocab_size, **SIZES[kind])
    if kind == "gemma3":
        config.sliding_window = 512
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    return folder, note


def compare(ours: Path, theirs: Path) -> str:
    """Tensors (names, shapes, data) and metadata keys of our file against theirs."""
    import gguf
    import numpy as np

    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    if ta.keys() != tb.keys():
        only_ours, only_theirs = sorted(ta.keys() - tb.keys()), sorted(tb.keys() - ta.keys())
        return f"tensor names differ: only ours {only_ours[:3]}, only theirs {only_theirs[:3]}"
    different = [
        n
        for n in ta
        if ta[n].tensor_type != tb[n].tensor_type
        or not np.array_equal(np.asarray(ta[n].data), np.asarray(tb[n].data))
    ]
    missing = sorted(k for k in b.fields if k not in a.fields and not k.startswith("GGUF."))
    verdict = (
        "all tensors identical"
        if not different
        else f"{len(different)} tensors differ (e.g. {different[0]})"
    )
    return verdict + (f"; keys only theirs: {', '.join(missing)}" if missing else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llama-cpp", type=Path, help="a llama.cpp source tree")
    parser.add_argument("--only", default=",".join(ARCHITECTURES))
    args = parser.parse_args()
    tree, origin = llama_cpp_converter(args.llama_cpp)
    print(f"llama.cpp's converter: {origin if tree else 'not available: ' + origin}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="huacaya-bench-") as tmp:
        work = Path(tmp)
        ours_script = work / "ours.py"
        ours_script.write_text(OURS)
        for kind in args.only.split(","):
            try:
                checkpoint, note = build(kind, work / kind, tree)
            except Exception as exc:  # report it with the others: one failure ends nothing
                failed = {"error": f"could not build the checkpoint: {exc}"}
                rows.append((kind, 0, "", failed, failed, ""))
                continue
            from conversion.weight_files import WeightFiles

            with WeightFiles.open(checkpoint) as weights:
                source_bytes = weights.total_bytes()
            ours_out, theirs_out = work / f"{kind}-ours.gguf", work / f"{kind}-theirs.gguf"
            ours = measure(ours_script, str(ROOT), str(checkpoint), str(ours_out))
            theirs = {"error": "converter not available"}
            if tree is not None:
                theirs = measure(
                    tree / "convert_hf_to_gguf.py",
                    str(checkpoint), "--outfile", str(theirs_out), "--outtype", "f16",
                )  # fmt: skip
            same = (
                compare(ours_out, theirs_out)
                if "error" not in ours and "error" not in theirs
                else ""
            )
            rows.append((kind, source_bytes, note, ours, theirs, same))
            print(f"  {kind}: done", file=sys.stderr)

    mb = 1e6
    print(f"\n{'arch':<8}{'weights':>10}  {'who':<7}{'seconds':>9}{'MB/s':>8}{'peak RSS':>11}")
    for kind, size, note, ours, theirs, same in rows:
        for who, row in (("ours", ours), ("theirs", theirs)):
            label = kind if who == "ours" else ""
            weights = f"{size / mb:,.0f} MB" if who == "ours" else ""
            if "error" in row:
                print(f"{label:<8}{weights:>10}  {who:<7} not measured: {row['error']}")
                continue
            print(
                f"{label:<8}{weights:>10}  {who:<7}{row['seconds']:>9.2f}"
                f"{size / row['seconds'] / mb:>8.0f}{row['peak_bytes'] / mb:>8.0f} MB"
            )
        if "error" not in ours and "error" not in theirs:
            print(
                f"{'':<20}ours/theirs: time {ours['seconds'] / theirs['seconds']:.2f}×, "
                f"peak memory {ours['peak_bytes'] / theirs['peak_bytes']:.2f}×"
            )
        print(f"{'':<20}vocabulary: {note}" + (f"; output: {same}" if same else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
