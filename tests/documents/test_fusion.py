"""Hybrid search weighs a full-text match by how specific it is (fusion.py): a passage that
shares only a common word with the question does not outrank the paraphrase the vectors put
first, as it did under reciprocal rank fusion; and a passage matching the question's rare words
still comes first when the vectors rank it low.

The vectors are scripted (each passage's cosine with the question is set here), so what is
tested is the fusion, the same on any machine; the full-text side is the real FTS5 index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from desktop.core.documents.library import Documents

DIMENSIONS = 64


class ScriptedEmbedder:
    """The question is the first axis; each known passage gets its own axis and the cosine
    with the question given to it; any other text is orthogonal to the question."""

    name = "scripted-embedder"
    dimensions = DIMENSIONS

    def __init__(self, question: str, cosines: dict[str, float]) -> None:
        self.question = question
        self.cosines = cosines
        self.axes = {text: i + 1 for i, text in enumerate(cosines)}

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(DIMENSIONS, dtype=np.float32)
        if text.strip() == self.question:
            vector[0] = 1.0
            return vector
        for passage, cosine in self.cosines.items():
            if passage in text:
                vector[0], vector[self.axes[passage]] = cosine, np.sqrt(1 - cosine**2)
                return vector
        vector[DIMENSIONS - 1] = 1.0
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def close(self) -> None:
        pass


def indexed(folder: Path, question: str, passages: dict[str, tuple[str, float]]) -> Documents:
    """``passages``: file name → (text, its cosine with ``question``); 20 unrelated notes
    besides, so both rankings have places to give."""
    files = folder / "files"
    files.mkdir()
    for name, (text, _cosine) in passages.items():
        (files / name).write_text(text + "\n")
    for i in range(20):
        (files / f"note{i:02d}.txt").write_text(
            f"Note {i}. The bus on route {i} leaves the terminal every hour until evening.\n"
        )
    embedder = ScriptedEmbedder(question, {text: c for text, c in passages.values()})
    documents = Documents(folder / "index.sqlite3", embedder)  # type: ignore[arg-type]
    documents.add("docs", [files])
    documents.index("docs")
    return documents


def ranked_files(documents: Documents, question: str, method: str) -> list[str]:
    hits = documents.search(["docs"], question, 5, method)  # type: ignore[arg-type]
    return [Path(h.chunk.path).name for h in hits]


PARAPHRASE = "How do we colour sheep's yarn so the shade lasts?"
# The passage that answers it shares no word with it; the others share one common word each
# and read a little like it (their cosines are below the answer's, as the real model's were).
DYEING = {
    "dyeing.txt": (
        "Dyeing fibre. Cochineal insects give red and chilca leaves give green. The fleece is "
        "first simmered with alum as a mordant so it holds through washing.",
        0.65,
    ),
    "shearing.txt": ("Shearing the sheep takes a whole morning in the yard.", 0.40),
    "wall.txt": ("At noon the herd rests in the shade of the stone wall.", 0.38),
    "salt.txt": ("A bag of salt lasts the herd about a month.", 0.36),
    "pasture.txt": ("Sheep and llamas graze together on the high pasture.", 0.37),
    "corral.txt": ("Cloth gives shade over part of the corral.", 0.39),
    "rains.txt": ("The rainy season lasts from December to March.", 0.35),
}


def test_a_paraphrase_beats_passages_sharing_only_common_words(tmp_path: Path) -> None:
    documents = indexed(tmp_path, PARAPHRASE, DYEING)
    try:
        assert "dyeing.txt" not in ranked_files(documents, PARAPHRASE, "fts")
        # reciprocal rank fusion: every passage in both lists outranks the vectors' first
        assert "dyeing.txt" not in ranked_files(documents, PARAPHRASE, "rrf")
        assert ranked_files(documents, PARAPHRASE, "hybrid")[0] == "dyeing.txt"
    finally:
        documents.close()


SPECIFIC = "Which herb keeps moths out of the skeins?"
# The passage holding the question's rare words reads less like it to the (scripted) vectors
# than five passages that share none of its words.
STORAGE = {
    "storage.txt": (
        "Storage. Finished skeins are kept in cotton bags with sprigs of muña, whose smell "
        "keeps moths away.",
        0.30,
    ),
    **{
        f"garden{i}.txt": (f"Garden {i}. Potatoes and beans grow by the {place}.", 0.45)
        for i, place in enumerate(("river", "church", "school", "bridge", "square"))
    },
}


@pytest.mark.parametrize("method", ["hybrid", "rrf"])
def test_a_match_of_the_questions_rare_words_still_comes_first(tmp_path: Path, method: str) -> None:
    documents = indexed(tmp_path, SPECIFIC, STORAGE)
    try:
        assert "storage.txt" not in ranked_files(documents, SPECIFIC, "vector")
        assert ranked_files(documents, SPECIFIC, method)[0] == "storage.txt"
    finally:
        documents.close()
