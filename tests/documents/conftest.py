"""Fixtures for documents Q&A: the real embedding model (once per session), a fast fake one for
the indexer's bookkeeping, and writers for real PDF, Word and OpenDocument files."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from desktop.core import paths
from desktop.core.documents.embedder import Embedder
from desktop.core.models.embedding_model import (
    EMBEDDING_NAME,
    embedding_checkpoint,
    ensure_embedding_model,
)
from tests.hub_server import LoopbackHub


@pytest.fixture(scope="session")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    model = ensure_embedding_model(folder=tmp_path_factory.mktemp("embeddings"))
    embedder = Embedder(model.path, max_tokens=model.max_tokens, name=EMBEDDING_NAME)
    yield embedder
    embedder.close()


class FakeEmbedder:
    """Hashed bag of words: deterministic, instant, and it counts what it was asked to embed."""

    name = "fake-embedder"
    dimensions = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        rows = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in re.findall(r"\w+", text.lower()):
                row[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def close(self) -> None:
        pass


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def write_pdf(path: Path, pages: Sequence[str], password: str = "") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    if password:
        pdf.set_encryption(owner_password=password, user_password=password)
    pdf.output(str(path))
    return path


def write_docx(path: Path, paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> Path:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    document.save(str(path))
    return path


def write_odt(path: Path, heading: str, paragraphs: Sequence[str]) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text=heading))
    for paragraph in paragraphs:
        document.text.addElement(P(text=paragraph))
    document.save(str(path))
    return path


FARM_PAGES = [
    "Alpaca farm handbook. This handbook describes daily routines on the farm in the "
    "highlands: feeding, water troughs and fencing of the paddocks.",
    "Shearing. The herd at the Puno farm is shorn once a year, every November, before the "
    "rainy season. Fleece is sorted by colour on the skirting table.",
    "Health. Animals are weighed monthly and vaccinated each spring against clostridial "
    "diseases by the visiting veterinarian.",
]
QUESTION = "In which month is the herd at the Puno farm shorn?"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_pdf(folder / "farm-handbook.pdf", FARM_PAGES)
    write_docx(
        folder / "recipes.docx",
        ["Quinoa soup: simmer quinoa with onions, garlic and potatoes for thirty minutes.",
         "Serve the soup with fresh coriander and a squeeze of lime."],
    )  # fmt: skip
    (folder / "travel.html").write_text(
        "<html><body><h1>Trip to Cusco</h1><p>The train to Machu Picchu leaves at 6 am from "
        "Poroy station; book tickets two weeks ahead.</p></body></html>"
    )
    (folder / "notes.md").write_text(
        "# Meeting notes\n\nThe budget for the new barn roof was approved in March.\n"
    )
    return folder


def use_converted_model(minilm: Embedder) -> None:
    """The app converts its embedding model on first use; give this home the session's copy."""
    target = paths.models_dir() / "embeddings" / minilm.path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(minilm.path, target)


REPO = "test-org/minilm-cls-prompts"
QUERY, DOCUMENT = "query: ", "passage: "


@pytest.fixture(scope="module")
def cls_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 made into another model: CLS pooling and its own query and document
    prompts (as bge and e5 have), so its vectors are not the built-in model's."""
    folder = tmp_path_factory.mktemp("minilm-cls") / "model"
    shutil.copytree(embedding_checkpoint(), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**config, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": QUERY, "document": DOCUMENT}})
    )
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"\0" * 1000)  # not needed: never fetched
    return folder


@pytest.fixture
def hub(hub_endpoint: LoopbackHub, cls_checkpoint: Path) -> LoopbackHub:
    files = {str(p.relative_to(cls_checkpoint)): p for p in cls_checkpoint.rglob("*")}
    hub_endpoint.add_repo(REPO, {name: p for name, p in files.items() if Path(p).is_file()})
    return hub_endpoint
