"""``huacaya-generate-data``: Stanford Alpaca's self-instruct data generation.

    huacaya-generate-data --seed-tasks seed_tasks.jsonl --out data.json --num 1000 \\
        --teacher gguf:PATH_OR_LIBRARY_NAME
    huacaya-generate-data … --teacher openai:MODEL --base-url http://localhost:8000/v1

Every rule of Stanford's pipeline is an option with their value as the default. Interrupted
(Ctrl+C, a crash), the same command continues where the run stopped.

This module knows files only; the installed command (``desktop/cli/generate.py``) passes in
the app's model library, so that ``gguf:NAME`` finds an installed model, and its keychain.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from conversion.errors import Cancelled, DataGenerationError, HuacayaError
from conversion.progress import CancelToken, ProgressBar, cancel_on_interrupt
from conversion.selfinstruct.dedup import DEFAULT_THRESHOLD, METHODS
from conversion.selfinstruct.filters import BANNED_PREFIXES, BLACKLIST, FilterRules
from conversion.selfinstruct.journal import journal_path
from conversion.selfinstruct.openai_teacher import DEFAULT_BASE_URL
from conversion.selfinstruct.prompt import load_prompt_text
from conversion.selfinstruct.runner import GenerationConfig, GenerationResult, generate
from conversion.selfinstruct.seeds import load_seed_tasks
from conversion.selfinstruct.teachers import (
    APIS,
    ModelResolver,
    Sampling,
    Teacher,
    TeacherSpec,
    parse_teacher_spec,
    resolve_path_only,
)

PROG = "huacaya-generate-data"


class KeyStore(Protocol):
    def get(self, base_url: str) -> str | None: ...
    def set(self, base_url: str, key: str) -> bool: ...


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Generate instruction-following data with Stanford Alpaca's self-instruct "
        "pipeline and a teacher model on this machine or behind an OpenAI-compatible API.",
    )
    p.add_argument("--seed-tasks", type=Path, metavar="FILE", help="seed tasks (JSON Lines)")
    p.add_argument("--out", type=Path, metavar="DATA.json", help="the Alpaca JSON to write")
    p.add_argument("--num", type=int, default=100, help="records to generate (default 100)")
    p.add_argument(
        "--teacher",
        metavar="SPEC",
        help="gguf:PATH_OR_LIBRARY_NAME (llama.cpp here) or openai:MODEL (see --base-url)",
    )
    p.add_argument("--force", action="store_true", help="start over, replacing --out")

    t = p.add_argument_group("teacher")
    t.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL),
        help="an OpenAI-compatible API (default: $OPENAI_BASE_URL, else OpenAI's)",
    )
    t.add_argument(
        "--api",
        choices=APIS,
        default="completions",
        help="completions: the reply continues the prompt (Stanford's); chat: it answers it",
    )
    t.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable with the API key (default OPENAI_API_KEY); without it, "
        "the key stored in the keychain for --base-url, if any",
    )
    t.add_argument(
        "--store-key",
        action="store_true",
        help="ask for the API key of --base-url, keep it in the OS keychain, and exit",
    )
    t.add_argument("--temperature", type=float, default=1.0)
    t.add_argument("--top-p", type=float, default=1.0)
    t.add_argument("--max-tokens", type=int, default=3072, help="per reply (default 3072)")
    t.add_argument(
        "--batch-size",
        type=int,
        default=5,
        help="requests at a time (default 5); a gguf teacher decodes them together",
    )
    t.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="stop after this many requests in this run (the same command continues later)",
    )
    t.add_argument("--retries", type=int, default=6, help="per request, with backoff")
    t.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    t.add_argument("--ctx", type=int, default=4096, help="context length of a gguf teacher")
    t.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of a gguf teacher (default: the cores idle when it starts)",
    )

    g = p.add_argument_group("prompt")
    g.add_argument("--prompt-file", type=Path, help="our request text, replaced (see README)")
    g.add_argument("--prompt-tasks", type=int, default=3, help="seed tasks per prompt (3)")
    g.add_argument("--tasks-per-prompt", type=int, default=20, help="tasks asked for (20)")
    g.add_argument("--seed", type=int, default=0, help="random seed of the whole run")

    f = p.add_argument_group("filters (Stanford's values by default)")
    f.add_argument("--min-words", type=int, default=3, help="drop instructions this short (3)")
    f.add_argument("--max-words", type=int, default=150, help="drop longer instructions (150)")
    f.add_argument(
        "--blacklist",
        default=",".join(BLACKLIST),
        metavar="WORDS",
        help="comma-separated whole words (any case) that drop an instruction; '' for none",
    )
    f.add_argument(
        "--banned-prefixes",
        default=",".join(BANNED_PREFIXES),
        metavar="TEXTS",
        help="comma-separated starts that drop an instruction; '' for none",
    )
    f.add_argument("--allow-punctuation-start", action="store_true")
    f.add_argument("--allow-non-ascii-start", action="store_true")
    f.add_argument(
        "--similarity",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="drop an instruction whose ROUGE-L with an earlier one is above this (0.7)",
    )
    f.add_argument(
        "--dedup",
        choices=METHODS,
        default="fast",
        help="fast: the same decisions in near-linear time; exhaustive: Stanford's every-pair "
        "comparison (adds avg_similarity_score)",
    )
    f.add_argument(
        "--lenient-numbers",
        action="store_true",
        help="accept a task block whose number is not its position (Stanford's drop it)",
    )
    f.add_argument(
        "--max-failed-replies",
        type=int,
        default=20,
        help="stop after this many replies in a row without one task in the format (20)",
    )
    return p


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def config_from(args: argparse.Namespace) -> GenerationConfig:
    return GenerationConfig(
        num=args.num,
        prompt_text=load_prompt_text(args.prompt_file),
        prompt_tasks=args.prompt_tasks,
        tasks_per_prompt=args.tasks_per_prompt,
        batch_size=args.batch_size,
        seed=args.seed,
        sampling=Sampling(args.temperature, args.top_p, args.max_tokens),
        rules=FilterRules(
            min_words=args.min_words,
            max_words=args.max_words,
            blacklist=_csv(args.blacklist),
            banned_prefixes=_csv(args.banned_prefixes),
            drop_punctuation_start=not args.allow_punctuation_start,
            drop_non_ascii_start=not args.allow_non_ascii_start,
        ),
        similarity=args.similarity,
        dedup=args.dedup,
        lenient_numbers=args.lenient_numbers,
        max_failed_replies=args.max_failed_replies,
        max_requests=args.max_requests,
    )


def open_teacher(
    args: argparse.Namespace,
    spec: TeacherSpec,
    resolve_model: ModelResolver,
    keys: KeyStore | None,
) -> Teacher:
    if spec.kind == "gguf":
        from conversion.selfinstruct.gguf_teacher import GgufTeacher

        path = resolve_model(spec.name)
        print(f"Loading the teacher {path.name} …", file=sys.stderr)
        teacher = GgufTeacher(
            path,
            api=args.api,
            context_length=args.ctx,
            threads=args.threads,
            parallel=args.batch_size,
        )
        threads = teacher.threads
        print(
            f"The teacher runs on {threads.threads} CPU thread{'s' * (threads.threads != 1)} "
            f"({threads.reason}).",
            file=sys.stderr,
        )
        return teacher
    from conversion.selfinstruct.openai_teacher import OpenAITeacher

    key = os.environ.get(args.api_key_env) or (keys.get(args.base_url) if keys else None)
    return OpenAITeacher(
        spec.name,
        args.base_url,
        api_key=key,
        api=args.api,
        retries=args.retries,
        timeout=args.timeout,
    )


def store_key(args: argparse.Namespace, keys: KeyStore | None) -> int:
    if keys is None:
        raise DataGenerationError(
            "This command was started without access to the keychain.",
            f"Run {PROG} as installed, or set {args.api_key_env} instead.",
        )
    prompt = f"API key for {args.base_url}: "
    key = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()
    if keys.set(args.base_url, key):
        print(f"Stored the key for {args.base_url} in the keychain.")
    else:
        print("No keychain is available here: the key was not stored.", file=sys.stderr)
        return 1
    return 0


def report(result: GenerationResult, num: int) -> str:
    dropped = sum(result.dropped.values())
    reasons = ", ".join(f"{r} {n:,}" for r, n in result.dropped.most_common() if n)
    resumed = f", continuing from {result.resumed_with:,}" if result.resumed_with else ""
    return (
        f"Wrote {result.records:,} records to {result.out}{resumed} "
        f"({result.requests:,} requests in {result.seconds:.1f} s; "
        f"dropped {dropped:,} candidates{': ' + reasons if reasons else ''}).\n"
        f"The journal {journal_path(result.out).name} beside it lets a larger --num continue "
        "this run."
        + ("" if result.records >= num else f" Only {result.records:,} of {num:,} so far.")
    )


def check_out(out: Path) -> None:
    """``--out`` names a file (not a folder), before any teacher is asked."""
    if out.is_dir():
        raise DataGenerationError(
            f"“{out}” is a folder.", "Give --out a file name, such as data.json, in a folder."
        )


def write_failed(exc: OSError, out: Path) -> str:
    """A file that could not be written (no room, no right, no such folder), in one line."""
    where = exc.filename2 or exc.filename or out
    return (
        f"cannot write “{where}”: {exc.strerror or exc}. Give --out a file in a folder you can "
        "write to, with free space."
    )


def run(
    args: argparse.Namespace,
    cancel: CancelToken,
    resolve_model: ModelResolver,
    keys: KeyStore | None,
) -> int:
    if args.store_key:
        return store_key(args, keys)
    missing = [
        f"--{n.replace('_', '-')}" for n in ("seed_tasks", "out", "teacher") if not getattr(args, n)
    ]
    if missing:
        raise DataGenerationError(f"Missing {', '.join(missing)}.", f"See {PROG} --help.")
    check_out(args.out)
    spec = parse_teacher_spec(args.teacher)
    config = config_from(args)
    seed_tasks = load_seed_tasks(args.seed_tasks)
    teacher = open_teacher(args, spec, resolve_model, keys)
    bar = ProgressBar(message_width=None)
    try:
        result = generate(
            seed_tasks, teacher, args.out, config, force=args.force, progress=bar, cancel=cancel
        )
    finally:
        bar.finish()
        teacher.close()
    print(report(result, config.num))
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    resolve_model: ModelResolver = resolve_path_only,
    keys: KeyStore | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        with cancel_on_interrupt() as cancel:
            return run(args, cancel, resolve_model, keys)
    except Cancelled:
        print(
            f"\n{PROG}: interrupted. Everything generated so far is in {args.out}; run the same "
            "command to continue.",
            file=sys.stderr,
        )
        return 130
    except HuacayaError as exc:
        print(f"\n{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the output or its journal could not be written
        print(f"\n{PROG}: error: {write_failed(exc, args.out)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
