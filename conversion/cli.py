"""``huacaya-convert``: a Hugging Face checkpoint → GGUF, optionally quantized, with a progress bar.

    huacaya-convert SRC -o OUT.gguf [--outtype f16|bf16|f32|q8_0|auto|q4_0|q4_k_m|q5_k_m|q6_k]
                    [--lora ADAPTER_DIR] [--recover-from LLAMA_DIR] [--template auto|alpaca]
                    [--force]

K-quants are made in two steps, both with progress: conversion to a temporary f16 GGUF next to
the output, then llama.cpp's quantizer.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from conversion.convert import OUTTYPES, TEMPLATES, convert
from conversion.errors import Cancelled, HuacayaError
from conversion.output import check_destination
from conversion.ownership import CONVERT_FOLDER_PREFIX, owned_name, sweep
from conversion.progress import CancelToken, ProgressBar, cancel_on_interrupt, sub_range
from conversion.quantize import QUANT_TYPES, quantize


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huacaya-convert",
        description="Convert a Hugging Face checkpoint to GGUF (no PyTorch needed).",
    )
    parser.add_argument(
        "src",
        type=Path,
        help="checkpoint folder: config.json, weights, tokenizer",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .gguf to write")
    parser.add_argument(
        "--outtype",
        default="f16",
        choices=[*OUTTYPES, *(q for q in QUANT_TYPES if q not in OUTTYPES)],
        help="f16 (default), bf16, f32, q8_0, auto (the source's), or a llama.cpp quantization",
    )
    parser.add_argument("--lora", type=Path, help="PEFT LoRA adapter folder to merge in")
    parser.add_argument(
        "--recover-from",
        type=Path,
        metavar="LLAMA_DIR",
        help="SRC is an Alpaca weight diff: add it to this raw LLaMA-7B (HF format) folder",
    )
    parser.add_argument(
        "--template",
        default="auto",
        choices=TEMPLATES,
        help="auto: the model's chat template (Alpaca's if it has none); alpaca: Stanford's",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    parser.add_argument("--threads", type=int, default=0, help="quantizer threads")
    return parser


def run(args: argparse.Namespace, cancel: CancelToken) -> int:
    bar = ProgressBar()
    check_destination(args.output, args.force)
    freed = sweep(args.output.parent)  # what killed runs left here
    if freed:
        print(f"Removed {freed / 1e6:,.1f} MB left behind by interrupted runs.", file=sys.stderr)
    common = dict(
        lora=args.lora,
        recover_from=args.recover_from,
        template=args.template,
    )
    if args.outtype in OUTTYPES:
        result = convert(
            args.src, args.output, args.outtype, bar, cancel, force=args.force, **common
        )
        bar.finish()
        print(
            f"Wrote {result.path} ({result.bytes_written / 1e6:,.1f} MB, {result.outtype}, "
            f"{result.tensors} tensors) in {result.seconds:.1f} s"
        )
        _report_integrity(result.integrity)
        return 0
    with tempfile.TemporaryDirectory(
        prefix=owned_name(CONVERT_FOLDER_PREFIX), dir=args.output.parent
    ) as tmp:
        intermediate = Path(tmp) / "model-f16.gguf"
        converted = convert(
            args.src, intermediate, "f16", sub_range(bar, 0.0, 0.5), cancel, **common
        )
        quantized = quantize(
            intermediate,
            args.output,
            args.outtype,
            sub_range(bar, 0.5, 1.0),
            cancel,
            threads=args.threads,
            force=args.force,
        )
    bar.finish()
    print(
        f"Wrote {quantized.path} ({quantized.bytes_written / 1e6:,.1f} MB, "
        f"{args.outtype.upper()}) in {converted.seconds + quantized.seconds:.1f} s"
    )
    _report_integrity(converted.integrity)
    return 0


def _report_integrity(integrity: dict) -> None:
    if integrity:
        verdict = "PASSED" if integrity["passed"] else "FAILED"
        print(
            f"Integrity check {verdict}: sum of all recovered weights {integrity['sum']:.4f} "
            f"(Alpaca-7B: {integrity['expected']:.4f})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with cancel_on_interrupt() as cancel:
            return run(args, cancel)
    except Cancelled:
        print("\nhuacaya-convert: cancelled; nothing was written.", file=sys.stderr)
        return 130
    except HuacayaError as exc:
        print(f"\nhuacaya-convert: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if os.name == "nt":  # spawned quantizer processes re-import this module
        import multiprocessing

        multiprocessing.freeze_support()
    sys.exit(main(sys.argv[1:]))
