"""``huacaya eval``: is a fine-tune any good? Alpaca's blind pairwise evaluation.

    huacaya eval answer --model NAME --prompts FILE --out answers.jsonl
    huacaya eval vote SIDE_A SIDE_B [--prompts FILE]      (blind, in the terminal)
    huacaya eval judge --judge MODEL_OR_URL SIDE_A SIDE_B

A side is an answer file (ours, or any with a ``response`` per item), ``text-davinci-003`` (its
published answers to the Self-Instruct set, downloaded once), an installed model, or an
OpenAI-compatible endpoint (``openai:MODEL`` with ``--base-url``, or the URL). ``--prompts
self-instruct`` is the Self-Instruct user-oriented set (252 instructions, downloaded once).
This module reads and prints; the work is in ``desktop/core/evaluation``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from conversion.errors import Cancelled, EvaluationError
from conversion.progress import CancelToken, ProgressBar, cancel_on_interrupt
from desktop.cli.arguments import positive
from desktop.cli.eval_vote import run_vote
from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.evaluation.answerers import AnswerSettings
from desktop.core.evaluation.answering import AnswerRun
from desktop.core.evaluation.items import EvalItem, load_prompts
from desktop.core.evaluation.judging import JudgeRun, human_preferences
from desktop.core.evaluation.published import PUBLISHED, prompts_path
from desktop.core.evaluation.sides import (
    answer_set_for,
    check_sides,
    default_session,
    open_answerer,
)
from desktop.core.evaluation.votes import VoteSession

NAME = "eval"
PROMPTS_HELP = "the instruction set: a file, or self-instruct (downloaded once)"
SIDE_HELP = "answer file, text-davinci-003 (downloaded once), model or endpoint"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "eval", help="compare two models blindly (answer sets, votes, an automatic judge)"
    )
    actions = parser.add_subparsers(dest="eval_command", metavar="ACTION", required=True)

    answer = actions.add_parser("answer", help="run a model over an instruction set")
    answer.add_argument("--model", "-m", required=True, help="installed model, .gguf, or endpoint")
    answer.add_argument("--prompts", required=True, help=PROMPTS_HELP)
    answer.add_argument("--out", required=True, type=Path, help="the answer file (JSON Lines)")
    answer.add_argument("--force", action="store_true", help="replace --out if it holds others")
    _answer_options(answer)

    vote = actions.add_parser("vote", help="vote blindly in the terminal")
    vote.add_argument("sides", nargs=2, metavar="SIDE", help=SIDE_HELP)
    vote.add_argument("--session", type=Path, help="the vote session file (resumed if it exists)")
    vote.add_argument("--seed", type=int, help="seed of a new session's A/B orders")
    vote.add_argument("--results", action="store_true", help="print the results and exit")
    vote.add_argument("--export", type=Path, metavar="FILE", help="votes to .csv or .json, exit")
    vote.add_argument("--prompts", help=PROMPTS_HELP + " (needed for a model side)")
    _answer_options(vote)

    judge = actions.add_parser("judge", help="an automatic judge compares two answer sets")
    judge.add_argument("--judge", required=True, help="installed model, .gguf, or endpoint")
    judge.add_argument("sides", nargs=2, metavar="SIDE", help=SIDE_HELP)
    judge.add_argument("--votes", type=Path, help="a vote session: agreement with people")
    judge.add_argument("--out", type=Path, help="write the report and every verdict (JSON)")
    judge.add_argument("--prompts", help=PROMPTS_HELP + " (needed for a model side)")
    _answer_options(judge)


def _answer_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("answering (greedy by default)")
    g.add_argument("--limit", type=positive, help="only the first N items of the set")
    g.add_argument("--max-tokens", "-n", type=positive, default=512, help="per answer (512)")
    g.add_argument("--temperature", "-t", type=float, default=0.0, help="0: greedy (default)")
    g.add_argument("--seed-sampling", type=int, default=0, dest="sampling_seed")
    g.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="prompt format")
    g.add_argument("--system", default="", help="a system prompt (none by default)")
    g.add_argument("--parallel", type=positive, default=8, help="answers decoded together (8)")
    g.add_argument("--ctx", type=positive, default=2048, help="context per answer (2048)")
    g.add_argument("--threads", type=positive, help="CPU threads")
    e = parser.add_argument_group("OpenAI-compatible endpoints")
    e.add_argument("--base-url", default="", help="with openai:MODEL (default $OPENAI_BASE_URL)")
    e.add_argument("--remote-model", default="", help="the model id when a side is a URL")
    e.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable with the API key")


def _settings(args: argparse.Namespace) -> AnswerSettings:
    return AnswerSettings(
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.sampling_seed,
        prompt_format=args.format,
        system=args.system,
    )


def _answerer_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "base_url": args.base_url,
        "remote_model": args.remote_model,
        "api_key_env": args.api_key_env,
        "parallel": args.parallel,
        "context_length": args.ctx,
        "threads": args.threads or 0,
    }


def _items(spec: str | None, limit: int | None, cancel: CancelToken) -> list[EvalItem] | None:
    """The instruction set ``--prompts`` names; a published one is downloaded first (once)."""
    if spec is None:
        return None
    bar = ProgressBar(message_width=None)
    shown: list[float] = []

    def progress(fraction: float, message: str = "") -> None:
        shown.append(fraction)  # (a set already in the cache prints nothing)
        bar(fraction, message)

    try:
        path = prompts_path(spec, progress, cancel)
    finally:
        if shown:
            bar.finish()
    items = load_prompts(path)
    return items[:limit] if limit else items


def _prompts_name(spec: str | None) -> str:
    if not spec:
        return ""
    return spec if spec.strip().lower() in PUBLISHED else Path(spec).name


def run(args: argparse.Namespace) -> int:
    try:
        with cancel_on_interrupt() as cancel:
            return {"answer": _answer, "vote": _vote, "judge": _judge}[args.eval_command](
                args, cancel
            )
    except Cancelled:
        print(
            "\nhuacaya eval: interrupted. Everything done so far is kept: run the same command "
            "to continue.",
            file=sys.stderr,
        )
        return 130


def _answer(args: argparse.Namespace, cancel: CancelToken) -> int:
    items = _items(args.prompts, args.limit, cancel)
    assert items is not None
    answerer = open_answerer(args.model, **_answerer_options(args))
    bar = ProgressBar(message_width=None)
    try:
        run = AnswerRun(
            answerer, items, args.out, _settings(args), prompts_name=_prompts_name(args.prompts),
            force=args.force,
        )  # fmt: skip
        report = run.run(bar, cancel)
    finally:
        bar.finish()
        answerer.close()
    print(report.describe())
    return 0


def _sides(args: argparse.Namespace, cancel: CancelToken) -> tuple[Any, Any, Any]:
    items = _items(args.prompts, args.limit, cancel)
    check_sides(list(args.sides), items is not None, args.base_url)
    sides = []
    for spec in args.sides:
        bar = ProgressBar(message_width=None)
        try:
            sides.append(
                answer_set_for(
                    spec,
                    items,
                    prompts_name=_prompts_name(args.prompts),
                    settings=_settings(args),
                    progress=bar,
                    cancel=cancel,
                    **_answerer_options(args),
                )
            )
        finally:
            bar.finish()
    if items is None and args.limit:
        first = sides[0]
        items = [EvalItem(a.id, a.instruction, a.input) for a in first.answers[: args.limit]]
    return sides[0], sides[1], items


def _vote(args: argparse.Namespace, cancel: CancelToken) -> int:
    first, second, items = _sides(args, cancel)
    path = args.session or default_session(first.name, second.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    session = VoteSession(path, first, second, items, seed=args.seed)
    if args.export:
        session.export(args.export)
        print(f"Wrote {len(session.votes)} votes to {args.export}.")
        return 0
    if args.results:
        print(session.results().describe())
        return 0
    return run_vote(session, sys.stdin, sys.stdout)


def _judge(args: argparse.Namespace, cancel: CancelToken) -> int:
    first, second, items = _sides(args, cancel)
    human = None
    if args.votes and not args.votes.is_file():
        raise EvaluationError(
            f"The vote session “{args.votes}” does not exist.",
            "Give the session file `huacaya eval vote` wrote (its path is printed when it stops).",
        )
    if args.votes:
        votes = VoteSession(args.votes, *_session_sides(args.votes, first, second), items)
        human = human_preferences(votes.sides[0].name, votes.preferences(), first.name)
    judge = open_answerer(args.judge, **_answerer_options(args))
    bar = ProgressBar(message_width=None)
    try:
        report = JudgeRun(judge, first, second, items, human=human).run(bar, cancel)
    finally:
        bar.finish()
        judge.close()
    print(report.describe())
    if args.out:
        report.write(args.out)
        print(f"Every verdict is in {args.out}.")
    return 0


def _session_sides(path: Path, first: Any, second: Any) -> tuple[Any, Any]:
    """The sides in the order the vote session ``path`` has them."""
    from desktop.core.evaluation.journal import JsonLines

    header = next(iter(JsonLines(path).read()), {})
    names = [s.get("name") for s in header.get("sides", []) if isinstance(s, dict)]
    return (second, first) if names == [second.name, first.name] else (first, second)
