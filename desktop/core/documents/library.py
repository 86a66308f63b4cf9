"""Documents: the one object the terminal and the window use for collections — add, list,
remove, index and search — on top of the store, the indexer and retrieval.

Each collection keeps the embedding model it was created with (the app's own by default, or a
Hub model, downloaded and converted when a collection first needs it and a ``hub`` is given).
Models are loaded on first use. Indexing in the background should use its own
:class:`Documents` (its own SQLite connection and embedders), so searches never wait for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conversion.errors import DocumentError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core.documents.context import (
    NEAREST_SHOWN,
    PassageBudget,
    Passages,
    citation,
    focus,
)
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.indexer import IndexReport, IndexStatus, PauseToken, index_collection
from desktop.core.documents.relevance import relevant_hits, threshold_for
from desktop.core.documents.reranker import Reranker
from desktop.core.documents.reranker_model import install_hub_reranker, installed_reranker
from desktop.core.documents.retrieval import Hit, Method, Search, find
from desktop.core.documents.store import Collection, DocumentStore, FileRecord
from desktop.core.documents.terms import analyse
from desktop.core.models.embedding_model import EMBEDDING_NAME, check_model_name, embedding_model

if TYPE_CHECKING:
    from desktop.core.hub.client import HubClient


class Documents:
    def __init__(
        self,
        store_path: Path | None = None,
        embedder: Embedder | None = None,
        threads: int = 0,
        hub: HubClient | None = None,
    ) -> None:
        """``embedder``: a loaded one to share (the caller closes it), the default for new
        collections; else the app's own model. Models are loaded on first use, with
        ``threads`` copies (0: one per core, for indexing; searching alone needs one), and
        closed with this object. ``hub``: where to fetch a collection's missing Hub model."""
        self.store = DocumentStore(store_path)
        self._shared = embedder
        self.default_model = embedder.name if embedder is not None else EMBEDDING_NAME
        self._embedders: dict[str, Embedder] = {}
        self._threads = threads
        self.hub = hub
        self._reranker: Reranker | None = None
        self._reranker_name = ""
        self._borrowed = False  # a reranker given by the caller, who closes it
        self.closed = False

    # -- the reranker ----------------------------------------------------------------------

    @property
    def reranker_name(self) -> str:
        """The cross-encoder chosen for searches ("" for none)."""
        return self.store.option("reranker")

    @property
    def reranker(self) -> Reranker | None:
        """The chosen cross-encoder, loaded on first use (None: none chosen, or not installed
        here any more)."""
        name = self.reranker_name
        if name != self._reranker_name:
            self._close_reranker()
            found = installed_reranker(name) if name else None
            if found is not None:
                self._reranker = Reranker(found.path, name, self._threads)
            self._reranker_name = name
        return self._reranker

    @reranker.setter
    def reranker(self, reranker: Reranker | None) -> None:
        """Use this loaded one (the caller closes it), whatever is chosen."""
        self._close_reranker()
        self._reranker, self._reranker_name = reranker, self.reranker_name
        self._borrowed = reranker is not None

    def use_reranker(
        self,
        name: str,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Rerank searches with the Hub cross-encoder ``name`` (downloaded and converted now
        if need be, with ``hub``), or with none (``name`` empty)."""
        if name.strip():
            name = check_model_name(name)
            if installed_reranker(name) is None:
                if self.hub is None:
                    raise DocumentError(f"The reranker “{name}” is not installed here.")
                install_hub_reranker(name, self.hub, progress, cancel)
        self.store.set_option("reranker", name.strip())

    def _close_reranker(self) -> None:
        if self._reranker is not None and not self._borrowed:
            self._reranker.close()
        self._reranker, self._borrowed = None, False

    @property
    def embedder(self) -> Embedder:
        """The default model's embedder."""
        return self.embedder_for(self.default_model)

    def embedder_for(
        self,
        model: str,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> Embedder:
        if self._shared is not None and model == self._shared.name:
            return self._shared
        if model not in self._embedders:
            found = embedding_model(model, self.hub, progress, cancel)
            self._embedders[model] = Embedder.for_model(found, self._threads)
        return self._embedders[model]

    def close(self) -> None:
        self._close_reranker()
        for embedder in self._embedders.values():
            embedder.close()
        self._embedders = {}
        self.store.close()
        self.closed = True

    # -- collections -----------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        return self.store.collections()

    def collection(self, name: str) -> Collection:
        return self.store.collection(name)

    def add(
        self,
        name: str,
        sources: Sequence[Path],
        model: str = "",
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> Collection:
        """Create the collection if needed and add folders or files to it (index it next).
        ``model``: the embedding model of a new collection (a Hub repository id, installed now
        if needed); an existing collection keeps its own."""
        resolved = []
        for source in sources:
            path = Path(source).expanduser().resolve()
            if not path.exists():
                raise DocumentError(
                    f"“{source}” does not exist.", "Give a folder or a file that exists."
                )
            resolved.append(path)
        model = check_model_name(model) if model.strip() else ""
        existing = {c.name: c for c in self.store.collections()}
        if name in existing and model and model != existing[name].embedding_model:
            raise DocumentError(
                f"The collection “{name}” uses the embedding model "
                f"{existing[name].embedding_model}; a collection keeps one model.",
                f"Add the folders to a new collection to use {model}.",
            )
        if name not in existing:
            embedder = self.embedder_for(model or self.default_model, progress, cancel)
            self.store.create_collection(name, embedder.name, embedder.dimensions)
        self.store.add_sources(name, resolved)
        return self.store.collection(name)

    def remove(self, name: str) -> None:
        self.store.remove_collection(name)

    def unreadable(self, name: str) -> list[FileRecord]:
        collection = self.store.collection(name)
        files = self.store.files(collection.id).values()
        return sorted((f for f in files if f.status == "unreadable"), key=lambda f: f.path)

    # -- indexing and search ---------------------------------------------------------------

    def index(
        self,
        name: str,
        progress: Progress = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
        pause: PauseToken | None = None,
        on_status: Callable[[IndexStatus], None] | None = None,
    ) -> IndexReport:
        embedder = self.embedder_for(self.store.collection(name).embedding_model, progress, cancel)
        return index_collection(self.store, name, embedder, progress, cancel, pause, on_status)

    def find(
        self, names: Sequence[str], query: str, limit: int = 5, method: Method = "hybrid"
    ) -> Search:
        embedder_for = (lambda c: self.embedder_for(c.embedding_model)) if method != "fts" else None
        reranker = self.reranker if method == "hybrid" else None
        return find(self.store, names, query, embedder_for, limit, method, reranker)

    def search(
        self, names: Sequence[str], query: str, limit: int = 5, method: Method = "hybrid"
    ) -> list[Hit]:
        return self.find(names, query, limit, method).hits

    def passages(self, question: str, names: Sequence[str], budget: PassageBudget) -> Passages:
        """What to give the model for ``question``: the relevant passages, as many and as long
        as ``budget`` says; or none, with the nearest ones to show."""
        if not names:
            return Passages([])
        found = self.find(names, question, max(budget.count, NEAREST_SHOWN))
        model = {c.name: c.embedding_model for c in self.store.collections()}
        relevant = relevant_hits(found, lambda hit: threshold_for(model[hit.chunk.collection]))
        if not relevant:
            nearest = [citation(n, hit) for n, hit in enumerate(found.hits, start=1)]
            return Passages([], nearest[:NEAREST_SHOWN], tuple(names))
        words = set(analyse(question).words)
        given = [
            citation(n, hit, *focus(hit.chunk.text, words, budget.chars))
            for n, hit in enumerate(relevant[: budget.count], start=1)
        ]
        return Passages(given, [], tuple(names))
