"""The installed ``huacaya-generate-data`` command: ``conversion.selfinstruct.cli`` with the
app's model library (``gguf:NAME`` finds an installed model) and keychain (API keys), and the
Data step's two options, which need the app:

- ``--from-documents COLLECTION``: records grounded in passages of a document collection
  (``core/studio/grounded.py``) instead of Stanford's seed tasks; ``--num`` records;
- ``--score``: each record's score by the teacher (``core/studio/scoring.py``) in the output;
- ``--seed-tasks stanford``: Stanford Alpaca's 175 seed tasks, downloaded once (pinned, SHA-256
  checked: ``core/evaluation/published.py``) where no file of that name is in the folder.

It lives in ``desktop`` because ``conversion`` may not import the app; everything else is in
``conversion.selfinstruct``, which on its own takes model files and keys from the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from conversion.errors import Cancelled, DataGenerationError, HuacayaError
from conversion.output import atomic_write_text
from conversion.progress import CancelToken, ProgressBar, cancel_on_interrupt
from conversion.selfinstruct import cli
from desktop.core import secrets
from desktop.core import settings as settings_store
from desktop.core.evaluation.published import STANFORD_SEED_TASKS, fetch, published
from desktop.core.models.library import library_for, resolve_model
from desktop.core.models.teachers import teacher_advice
from desktop.core.studio.grounded import generate_from_documents
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.scores import ScoredRecords
from desktop.core.studio.scoring import score_records


def _resolve(name: str) -> Path:
    """The teacher's file; a teacher too small to write useful data is said so, with a better
    one (``teachers.teacher_advice``), before the run starts."""
    settings = settings_store.load()
    library = library_for(settings.models_folder)
    path = resolve_model(name, library)
    advice = teacher_advice(path, library, settings.offline) if path.is_file() else ""
    if advice:
        print(f"huacaya-generate-data: note: {advice}\n", file=sys.stderr, flush=True)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    for action in parser._actions:  # argparse has no public way to reword an inherited option
        if action.dest == "seed_tasks":
            action.help = (
                "seed tasks (JSON Lines), or `stanford`: Stanford Alpaca's 175, downloaded once"
            )
    studio = parser.add_argument_group("the app's data step")
    studio.add_argument(
        "--from-documents",
        metavar="COLLECTION",
        help="write records grounded in passages of this document collection (see `huacaya "
        "docs`) instead of from seed tasks: --num records, each with its source passage",
    )
    studio.add_argument(
        "--score",
        action="store_true",
        help="add each record's score by the teacher to the output: a local model's mean "
        "log-probability per token, an endpoint's prompt log-probs or else a 1-10 rating",
    )
    return parser


def _with_published_seeds(argv: list[str], args: argparse.Namespace) -> list[str]:
    """``argv`` with ``--seed-tasks stanford`` replaced by the downloaded file's path."""
    name = str(args.seed_tasks) if args.seed_tasks is not None else ""
    if not name or published(name, "seeds") is None:
        return argv
    if settings_store.load().offline:
        raise DataGenerationError(
            "Offline mode is on, so Stanford's seed tasks cannot be downloaded.",
            "Give a seed tasks file with --seed-tasks FILE, or turn Offline mode off.",
        )
    bar = ProgressBar(message_width=None)
    try:
        with cancel_on_interrupt() as cancel:
            path = str(fetch(STANFORD_SEED_TASKS, bar, cancel))
    finally:
        bar.finish()
    return [
        path if a == name else f"--seed-tasks={path}" if a == f"--seed-tasks={name}" else a
        for a in argv
    ]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if not args.from_documents:  # with it, --seed-tasks is refused, not downloaded
            argv = _with_published_seeds(argv, args)
    except HuacayaError as exc:
        print(f"{cli.PROG}: error: {exc}", file=sys.stderr)
        return 1
    if not (args.from_documents or args.score):
        return cli.main(argv, resolve_model=_resolve, keys=secrets.ApiKeys())
    try:
        with cancel_on_interrupt() as cancel:
            if args.from_documents:
                return _from_documents(args, cancel)
            code = cli.main(
                [a for a in argv if a != "--score"],
                resolve_model=_resolve,
                keys=secrets.ApiKeys(),
            )
            return code if code else _score_output(args, cancel)
    except Cancelled:
        print(f"\n{cli.PROG}: interrupted. What was made so far is in {args.out}.", file=sys.stderr)
        return 130
    except HuacayaError as exc:
        print(f"\n{cli.PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the output could not be written (no space, no right)
        print(f"\n{cli.PROG}: error: {cli.write_failed(exc, args.out)}", file=sys.stderr)
        return 1


def _api_key(args: argparse.Namespace) -> str:
    return os.environ.get(args.api_key_env) or secrets.ApiKeys().get(args.base_url) or ""


def _from_documents(args: argparse.Namespace, cancel: CancelToken) -> int:
    missing = [f"--{n}" for n in ("out", "teacher") if not getattr(args, n)]
    if missing:
        raise DataGenerationError(f"Missing {', '.join(missing)}.", f"See {cli.PROG} --help.")
    if args.seed_tasks:
        raise DataGenerationError(
            "--from-documents and --seed-tasks are two ways to make records: give one."
        )
    out: Path = args.out
    cli.check_out(out)
    if out.exists() and not args.force:
        raise DataGenerationError(
            f"“{out}” exists.", "Give another --out, or --force to replace it."
        )
    if args.teacher.startswith("gguf:"):
        _resolve(args.teacher.removeprefix("gguf:").strip())  # its advice, if it is small
    bar = ProgressBar(message_width=None)
    try:
        result = generate_from_documents(
            args.from_documents,
            args.teacher,
            args.num,
            base_url=args.base_url,
            api_key=_api_key(args),
            progress=bar,
            cancel=cancel,
            batch_size=args.batch_size,
            seed=args.seed,
            on_batch=lambda records: _write(out, records),
        )
        records: list[StudioRecord] = result.records
        note = ""
        if args.score:
            records, note = _scored(records, args, bar, cancel)
    finally:
        bar.finish()
    _write(out, records)
    dropped = sum(result.dropped.values())
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(result.dropped.items()) if n)
    print(
        f"Wrote {len(records)} records grounded in “{args.from_documents}” to {out} "
        f"(dropped {dropped} replies{': ' + reasons if reasons else ''})."
        + (
            ""
            if len(records) >= args.num
            else f" {result.note or 'The collection has no more passages to ask about.'}"
        )
        + (f"\nScores: {note}." if note else "")
    )
    return 0


def _scored(
    records: list[StudioRecord], args: argparse.Namespace, bar: ProgressBar, cancel: CancelToken
) -> tuple[list[StudioRecord], str]:
    scored = score_records(
        records,
        args.teacher,
        base_url=args.base_url,
        api_key=_api_key(args),
        progress=bar,
        cancel=cancel,
        threads=args.threads,
    )
    note = scored.note if isinstance(scored, ScoredRecords) else ""
    return scored, note


def _score_output(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Add the teacher's score to every record of the self-instruct output, in place."""
    out: Path = args.out
    rows = json.loads(out.read_text(encoding="utf-8"))
    records = [
        StudioRecord(str(r["instruction"]), str(r.get("input", "")), str(r["output"])) for r in rows
    ]
    bar = ProgressBar(message_width=None)
    try:
        scored, note = _scored(records, args, bar, cancel)
    finally:
        bar.finish()
    for row, record in zip(rows, scored, strict=True):
        row["score"] = record.score
    atomic_write_text(out, json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    print(f"Scored {len(rows)} records in {out}: {note}.")
    return 0


def _write(out: Path, records: list[StudioRecord]) -> None:
    """The records as Alpaca JSON, each with its source passage and score where it has them."""
    rows = []
    for record in records:
        row: dict[str, object] = dict(record.alpaca())
        if record.source:
            row["source"] = record.source
        if record.score is not None:
            row["score"] = record.score
        rows.append(row)
    atomic_write_text(out, json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
