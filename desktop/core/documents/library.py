"""Documents: the one object the terminal and the window use for collections — add, list,
remove, index and search — on top of the store, the indexer and retrieval.

The embedding model is loaded on first use. Indexing in the background should use its own
:class:`Documents` (its own SQLite connection and embedder), so searches never wait for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from desktop.core.documents.context import Citation, citations_within
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.indexer import IndexReport, IndexStatus, PauseToken, index_collection
from desktop.core.documents.retrieval import Hit, Method, search
from desktop.core.documents.store import Collection, DocumentStore, FileRecord
from desktop.core.errors import DocumentError
from desktop.core.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress


class Documents:
    def __init__(
        self, store_path: Path | None = None, embedder: Embedder | None = None, threads: int = 0
    ) -> None:
        """``embedder``: a loaded one to share (the caller closes it); by default the app's
        own model, loaded on first use and closed with this object, with ``threads`` copies
        (0: one per core, for indexing; searching alone needs one)."""
        self.store = DocumentStore(store_path)
        self._embedder = embedder
        self._owns_embedder = embedder is None
        self._threads = threads

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder.default(self._threads)
        return self._embedder

    def close(self) -> None:
        if self._embedder is not None and self._owns_embedder:
            self._embedder.close()
        self._embedder = None
        self.store.close()

    # -- collections -----------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        return self.store.collections()

    def collection(self, name: str) -> Collection:
        return self.store.collection(name)

    def add(self, name: str, sources: Sequence[Path]) -> Collection:
        """Create the collection if needed and add folders or files to it (index it next)."""
        resolved = []
        for source in sources:
            path = Path(source).expanduser().resolve()
            if not path.exists():
                raise DocumentError(
                    f"“{source}” does not exist.", "Give a folder or a file that exists."
                )
            resolved.append(path)
        existing = {c.name for c in self.store.collections()}
        if name not in existing:
            embedder = self.embedder
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
        return index_collection(self.store, name, self.embedder, progress, cancel, pause, on_status)

    def search(
        self, names: Sequence[str], query: str, limit: int = 5, method: Method = "hybrid"
    ) -> list[Hit]:
        embedder = self.embedder if method != "fts" else None
        return search(self.store, names, query, embedder, limit, method)

    def citations(
        self, question: str, names: Sequence[str], max_chars: int, limit: int = 8
    ) -> list[Citation]:
        """The passages for a question, numbered and cut to the budget."""
        if not names:
            return []
        return citations_within(self.search(names, question, limit), max_chars)
