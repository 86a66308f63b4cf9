"""Embedding models from the Hub, against the loopback Hub: a collection made with one is indexed
and searched with it (its own pooling and prompts), a chat model is refused before its weights
are fetched, and collections of different models are searched together."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from conversion.errors import DocumentError
from desktop.cli.main import main
from desktop.core import paths
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.hub.client import HubClient
from desktop.core.models.embedding_model import check_model_name, embedding_model
from tests.documents.conftest import DOCUMENT, QUERY, REPO, use_converted_model
from tests.hub_server import LoopbackHub


def reference(checkpoint: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' recipe for CLS pooling: the first token's state, normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModel.from_pretrained(checkpoint, dtype=torch.float32).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state[:, 0]
    return torch.nn.functional.normalize(states, dim=-1).numpy()


def test_a_collection_with_a_hub_model(
    hub: LoopbackHub, cls_checkpoint: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_request = len(hub.requests)  # the session's loopback Hub served other tests before
    assert main(["docs", "add", "farm", str(corpus), "--model", REPO]) == 0
    assert "4 files indexed" in capsys.readouterr().out
    assert main(["docs", "search", "farm", "when is the fleece shorn", "-n", "1", "--method",
                 "vector"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith(f"{corpus / 'farm-handbook.pdf'}\t2\t")
    assert main(["docs", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("farm\t4 files\t") and f"\t{REPO}\n" in listed
    assert f"Embedding models here: all-MiniLM-L6-v2, {REPO}" in listed

    # Only what a conversion needs was fetched; only the GGUF and its description are kept.
    fetched = [r for r in hub.requests[first_request:] if "/resolve/" in r and REPO in r]
    assert fetched and not any("onnx" in r or "README" in r for r in fetched)
    folder = paths.models_dir() / "embeddings" / "hub" / REPO.replace("/", "--")
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == 2 and kept[0] == "embedding.json" and kept[1].endswith(".gguf")
    reader = gguf.GGUFReader(folder / kept[1])
    assert reader.fields["bert.pooling_type"].contents() == gguf.PoolingType.CLS

    # Its vectors are sentence-transformers' for this model, prompts included.
    model = embedding_model(REPO)
    assert (model.query_prefix, model.document_prefix) == (QUERY, DOCUMENT)
    embedder = Embedder.for_model(model, threads=1)
    try:
        texts = ["When is the herd shorn?", "The train leaves from Poroy station."]
        ours = np.vstack([embedder.embed_query(texts[0]), embedder.embed_documents(texts[1:])])
    finally:
        embedder.close()
    expected = reference(cls_checkpoint, [QUERY + texts[0], DOCUMENT + texts[1]])
    assert (ours * expected).sum(-1).min() > 0.999

    # A model in use stays; once its collection is gone it can be removed.
    assert main(["docs", "models"]) == 0
    assert f"{REPO}\tused by farm" in capsys.readouterr().out
    assert main(["docs", "models", "rm", REPO]) == 1
    assert "The collections farm use" in capsys.readouterr().err
    assert main(["docs", "rm", "farm"]) == 0
    assert main(["docs", "models", "rm", REPO]) == 0
    assert "MB freed" in capsys.readouterr().out
    assert not folder.exists()
    assert main(["docs", "models"]) == 0
    assert capsys.readouterr().out == "all-MiniLM-L6-v2 (built in)\tused by no collection\n"


def test_model_names() -> None:
    assert check_model_name(" ALL-minilm-L6-v2 ") == "all-MiniLM-L6-v2"
    assert check_model_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert check_model_name("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    for bad in ("bge-small", "a/b/c", "../x", "owner/", "not a model!"):
        with pytest.raises(DocumentError, match="not an embedding model Huacaya knows"):
            check_model_name(bad)


def test_collections_of_two_models_are_searched_together(
    hub: LoopbackHub,
    minilm: Embedder,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_converted_model(minilm)
    other = tmp_path / "other"
    other.mkdir()
    (other / "shearing.md").write_text("Llamas at the Cusco ranch are sheared every October.")
    (other / "feeding.md").write_text("In winter the ranch feeds its llamas hay and alfalfa.")
    documents = Documents(hub=HubClient(lambda: None, lambda: False), threads=1)
    asked: list[tuple[str, str]] = []
    real = Embedder.embed_query

    def spy(self: Embedder, text: str) -> np.ndarray:
        asked.append((self.name, text))
        return real(self, text)

    monkeypatch.setattr(Embedder, "embed_query", spy)
    try:
        documents.add("farm", [corpus])
        documents.add("ranch", [other], model=REPO)
        documents.index("farm")
        documents.index("ranch")
        question = "In which month are the llamas sheared?"
        hits = documents.search(["farm", "ranch"], question, 3)
        assert Path(hits[0].chunk.path).name == "shearing.md"
        # each collection's vectors were compared with the question in its own model
        assert sorted(asked) == sorted([("all-MiniLM-L6-v2", question), (REPO, question)])
        alone = documents.search(["ranch"], question, 2, "vector")
        together = documents.search(["farm", "ranch"], question, 10, "vector")
        ranch = [h.chunk.path for h in together if Path(h.chunk.path).parent == other]
        assert ranch == [h.chunk.path for h in alone]
    finally:
        documents.close()


def test_a_chat_model_is_refused_before_its_weights(
    hub: LoopbackHub, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_request = len(hub.requests)  # the session's loopback Hub served other tests before
    assert main(["docs", "add", "x", str(corpus), "--model", "test-org/smollm2-hf"]) == 1
    error = capsys.readouterr().err
    assert "“test-org/smollm2-hf” is a chat model (LlamaForCausalLM)" in error
    assert "BAAI/bge-small-en-v1.5" in error  # what to choose instead
    asked = hub.requests[first_request:]
    assert any("smollm2-hf" in r and "config.json" in r for r in asked)
    assert not any("smollm2-hf" in r and "safetensors" in r for r in asked)
    assert not (paths.models_dir() / "embeddings" / "hub" / "test-org--smollm2-hf").exists()
    assert main(["docs", "list"]) == 0
    assert capsys.readouterr().out.startswith("No collections yet.")

    # An encoder Huacaya does not convert: named, with what to choose, before its weights.
    other = tmp_path / "mpnet"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"architectures": ["MPNetForMaskedLM"]}))
    (other / "model.safetensors").write_bytes(b"\0" * 4096)
    hub.add_repo("test-org/mpnet", {"config.json": other / "config.json",
                                    "model.safetensors": other / "model.safetensors"})  # fmt: skip
    assert main(["docs", "add", "x", str(corpus), "--model", "test-org/mpnet"]) == 1
    error = capsys.readouterr().err
    assert "“test-org/mpnet” is a MPNetForMaskedLM model, not one Huacaya can use" in error
    assert "BertModel" in error
    assert not any("mpnet" in r and "safetensors" in r for r in hub.requests[first_request:])


def test_asking_for_a_model_ends_offline_mode_and_an_unknown_one_is_named(
    hub: LoopbackHub, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.core.settings import SettingsStore

    SettingsStore().update(offline=True)
    requests = len(hub.requests)
    assert main(["docs", "add", "mine", str(corpus), "--model", "ALL-MiniLM-L6-v2"]) == 0
    assert SettingsStore().settings.offline  # the built-in model, in any case: nothing to fetch
    assert len(hub.requests) == requests
    assert "offline mode" not in capsys.readouterr().err
    assert main(["docs", "rm", "mine"]) == 0
    assert main(["docs", "add", "x", str(corpus), "--model", "test-org/no-such-model"]) == 1
    error = capsys.readouterr().err
    assert "offline mode is now off" in error and "test-org/no-such-model" in error
    assert not SettingsStore().settings.offline
    assert main(["docs", "list"]) == 0
    assert capsys.readouterr().out.startswith("No collections yet.")
