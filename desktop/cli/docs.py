"""``huacaya docs …``: document collections from the terminal — add, list, rm, reindex, search,
and the embedding models they use (models, models rm).

Indexing shows files, chunks/s and time left; Ctrl+C stops it cleanly, and running the same
command again (or ``huacaya docs reindex``) continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conversion.errors import Cancelled, DocumentError
from conversion.progress import ProgressBar, cancel_on_interrupt
from desktop.cli.arguments import positive
from desktop.core import secrets
from desktop.core.chat.session import ChatSession
from desktop.core.documents.context import budget_for
from desktop.core.documents.indexer import IndexReport
from desktop.core.documents.library import Documents
from desktop.core.documents.reranker_model import installed_reranker
from desktop.core.hub.client import HubClient
from desktop.core.hub.download import human_bytes
from desktop.core.models.embedding_model import (
    EMBEDDING_NAME,
    check_model_name,
    installed_embedding_models,
    needs_download,
    remove_hub_embedding_model,
)
from desktop.core.settings import SettingsStore
from desktop.core.words import plural

NAME = "docs"


def add_parser(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser("docs", help="your documents: collections to ask questions about")
    actions = docs.add_subparsers(dest="docs_command", metavar="ACTION")
    add = actions.add_parser("add", help="add folders or files to a collection and index them")
    add.add_argument("collection")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument(
        "--model",
        default="",
        metavar="REPO",
        help=f"embedding model of a new collection: {EMBEDDING_NAME} (built in, the default) or "
        "a sentence-transformers model on the Hugging Face Hub, e.g. BAAI/bge-small-en-v1.5 "
        "(downloaded and converted once; asking for one turns offline mode off)",
    )
    models = actions.add_parser(
        "models", help="embedding models here, and the collections using them"
    )
    model_actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    forget = model_actions.add_parser("rm", help="delete a Hub embedding model no collection uses")
    forget.add_argument("model")
    actions.add_parser("list", help="collections, their folders, and files that cannot be read")
    remove = actions.add_parser("rm", help="remove a collection (your files are not touched)")
    remove.add_argument("collection")
    reindex = actions.add_parser(
        "reindex", help="index what changed since the last time (or everything with --full)"
    )
    reindex.add_argument("collection")
    reindex.add_argument("--full", action="store_true", help="read and embed every file again")
    reranker = actions.add_parser(
        "reranker",
        help="rerank searches with a cross-encoder from the Hugging Face Hub (or --off)",
    )
    reranker.add_argument(
        "model",
        nargs="?",
        default="",
        metavar="REPO",
        help="e.g. cross-encoder/ms-marco-MiniLM-L-6-v2 (downloaded and converted once); "
        "without it: say which one is used",
    )
    reranker.add_argument("--off", action="store_true", help="search without a reranker")
    search = actions.add_parser(
        "search", help="the best passages: path, page (- for files without pages), text"
    )
    search.add_argument("collection")
    search.add_argument("query")
    search.add_argument("--limit", "-n", type=positive, default=5)
    search.add_argument(
        "--method", choices=("hybrid", "fts", "vector"), default="hybrid", help=argparse.SUPPRESS
    )


def run(args: argparse.Namespace) -> int:
    store = SettingsStore()
    wanted = getattr(args, "model", "") if not getattr(args, "off", False) else ""
    if args.docs_command == "reranker":
        missing = bool(wanted) and installed_reranker(check_model_name(wanted)) is None
    else:
        missing = bool(wanted) and needs_download(wanted)
    if missing and store.settings.offline:
        store.update(offline=False)  # as `models pull`: asking for a download ends offline mode
        print("huacaya: offline mode is now off (you asked to use the Hub).", file=sys.stderr)
    hub = HubClient(secrets.get_token, lambda: store.settings.offline)
    documents = Documents(hub=hub)
    try:
        command = args.docs_command or "list"
        if command == "list":
            return _list(documents)
        if command == "models":
            return _models(documents, args.model if args.models_command == "rm" else "")
        if command == "rm":
            documents.remove(args.collection)
            print(f"Removed the collection “{args.collection}” (your files are untouched).")
            return 0
        if command == "reranker":
            return _reranker(documents, args.model, args.off)
        if command == "search":
            for hit in documents.search([args.collection], args.query, args.limit, args.method):
                text = " ".join(hit.chunk.text.split())
                print(f"{hit.chunk.path}\t{hit.chunk.page or '-'}\t{text}")
            return 0
        if command == "add":
            if not _add(documents, args.collection, args.paths, args.model):
                return 130
        elif args.full:
            collection = documents.collection(args.collection)
            documents.store.forget_fingerprints(collection.id)
        return index(documents, args.collection)
    finally:
        documents.close()


def _reranker(documents: Documents, model: str, off: bool) -> int:
    if off or model:
        bar = ProgressBar(message_width=None)
        with cancel_on_interrupt() as cancel:
            try:
                documents.use_reranker("" if off else model, bar, cancel)
            except Cancelled:
                bar.finish()
                print("Stopped. Run the same command again to continue.", file=sys.stderr)
                return 130
        bar.finish()
    name = documents.reranker_name
    print(f"Searches are reranked by {name}." if name else "Searches are not reranked.")
    return 0


def _add(documents: Documents, name: str, paths: list[str], model: str) -> bool:
    """Add to the collection, downloading its embedding model first if need be (False:
    stopped with Ctrl+C; running the command again continues the download)."""
    bar = ProgressBar(message_width=None)
    with cancel_on_interrupt() as cancel:
        try:
            documents.add(name, [Path(p) for p in paths], model, bar, cancel)
        except Cancelled:
            bar.finish()
            print("Stopped. Run the same command again to continue.", file=sys.stderr)
            return False
    return True


def index(documents: Documents, name: str) -> int:
    bar = ProgressBar(message_width=None)
    with cancel_on_interrupt() as cancel:
        try:
            report = documents.index(name, bar, cancel)
        except Cancelled:
            bar.finish()
            print(
                f"Stopped. What was indexed is kept; `huacaya docs reindex {name}` continues.",
                file=sys.stderr,
            )
            return 130
    bar.finish()
    print(summary(report))
    return 0


def summary(report: IndexReport) -> str:
    lines = [f"{report.collection}: {report.describe()}"]
    lines += [f"  cannot read {path}: {reason}" for path, reason in report.unreadable]
    lines += [f"  skipped {path}: {reason}" for path, reason in report.skipped]
    lines += [
        f"  missing folder {path}: its files stay in the index until it is back"
        for path in report.missing_sources
    ]
    return "\n".join(lines)


def _list(documents: Documents) -> int:
    collections = documents.collections()
    models = ", ".join(installed_embedding_models())
    if not collections:
        print("No collections yet. Add one: huacaya docs add NAME FOLDER [--model REPO]")
        print(f"Embedding models here: {models}")
        return 0
    for collection in collections:
        print(
            f"{collection.name}\t{plural(collection.files, 'file')}\t"
            f"{plural(collection.chunks, 'chunk')}\t"
            f"{collection.unreadable} unreadable\t{collection.embedding_model}"
        )
        for source in collection.sources:
            print(f"  {source}")
        for record in documents.unreadable(collection.name):
            print(f"  cannot read {record.path}: {record.reason}")
    print(f"Embedding models here: {models}")
    return 0


def _models(documents: Documents, remove: str) -> int:
    users: dict[str, list[str]] = {}
    for collection in documents.collections():
        users.setdefault(collection.embedding_model, []).append(collection.name)
    if remove:
        name = check_model_name(remove)
        if users.get(name):
            raise DocumentError(
                f"The collections {', '.join(users[name])} use {name}.",
                f"Remove them first (`huacaya docs rm {users[name][0]}`).",
            )
        freed = remove_hub_embedding_model(name)
        print(f"Removed the embedding model {name} ({human_bytes(freed)} freed).")
        return 0
    for name in installed_embedding_models():
        used = ", ".join(users.get(name, [])) or "no collection"
        built_in = " (built in)" if name == EMBEDDING_NAME else ""
        print(f"{name}{built_in}\tused by {used}")
    return 0


def documents_for_chat(
    session: ChatSession,
    names: list[str],
    context_tokens: int,
    answer_tokens: int,
    parameters: int = 0,
) -> Documents:
    """Let ``session`` answer from the collections ``names`` (checked to exist), with as many
    and as long passages as a model of ``parameters`` reads well."""
    documents = Documents(threads=1)  # one question at a time
    try:
        for name in names:
            documents.collection(name)
    except BaseException:
        documents.close()
        raise
    budget = budget_for(parameters, context_tokens, answer_tokens)
    session.find_passages = lambda question, chosen: documents.passages(question, chosen, budget)
    session.configure(collections=names)
    return documents
