"""Cross-encoder rerankers: our converter turns a BertForSequenceClassification checkpoint into
a GGUF llama.cpp runs with rank pooling, and its scores are transformers' logits (a tiny random
checkpoint built here, passage tokens of type 1 included); reranking keeps exact codes first."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest

from conversion.convert import convert
from conversion.errors import ConversionError
from desktop.cli.main import main
from desktop.core.documents.embedder import Embedder
from desktop.core.documents.library import Documents
from desktop.core.documents.reranker import Reranker
from desktop.core.documents.reranker_model import installed_rerankers
from desktop.core.documents.retrieval import Hit, rerank
from desktop.core.documents.store import StoredChunk
from desktop.core.models.embedding_model import embedding_checkpoint
from tests.documents.conftest import use_converted_model
from tests.hub_server import LoopbackHub

PAIRS = [
    ("how do we colour yarn?", "Dyeing fibre. Natural colours come from cochineal and alum."),
    ("Q731-B", "The registry code of Hualla is Q731-B. It was founded in 1342."),
    ("When is the herd shorn?", "Shearing happens every November, before the rainy season. " * 3),
]


def tiny_cross_encoder(folder: Path, labels: int = 1) -> tuple[Path, list[float], list[float]]:
    """A random BERT cross-encoder (the real tokenizer) and its logits for PAIRS, with the
    passage's token types and with every token of type 0."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(embedding_checkpoint())
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        type_vocab_size=2,
        num_labels=labels,
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)  # far from zero, so every part shows in the score
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    typed, untyped = [], []
    with torch.no_grad():
        for query, passage in PAIRS:
            encoded = tokenizer(query, passage, return_tensors="pt")
            typed.append(float(model(**encoded).logits[0, 0]))
            encoded["token_type_ids"].zero_()
            untyped.append(float(model(**encoded).logits[0, 0]))
    return folder, typed, untyped


def test_the_converted_reranker_gives_transformers_logits(tmp_path: Path) -> None:
    checkpoint, typed, untyped = tiny_cross_encoder(tmp_path / "ce")
    target = tmp_path / "reranker.gguf"
    convert(checkpoint, target, "f32")
    reader = gguf.GGUFReader(target)
    names = {t.name for t in reader.tensors}
    assert {"cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias"} <= names
    pooling = reader.fields["bert.pooling_type"]
    assert int(pooling.parts[pooling.data[0]][0]) == gguf.PoolingType.RANK

    reranker = Reranker(target, threads=2)
    try:
        scores = [reranker.score(q, [p])[0] for q, p in PAIRS]
        assert reranker.score(PAIRS[0][0], [p for _, p in PAIRS[:2]])[0] == pytest.approx(
            scores[0], abs=1e-5
        )  # side by side on two copies: the same
    finally:
        reranker.close()
    for got, want, without_types in zip(scores, typed, untyped, strict=True):
        assert got == pytest.approx(want, abs=2e-3)
        assert abs(want - without_types) > 0.02  # token types matter: the test would see it


def test_a_classifier_with_several_labels_is_not_a_reranker(tmp_path: Path) -> None:
    checkpoint, _, _ = tiny_cross_encoder(tmp_path / "ce2", labels=2)
    with pytest.raises(ConversionError, match="2 labels"):
        convert(checkpoint, tmp_path / "x.gguf", "f16")
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]


class FakeReranker:
    def score(self, query: str, passages: list[str]) -> list[float]:
        return [float(len(p)) for p in passages]  # longer: better


def hit(number: int, text: str, anchors: tuple[str, ...] = ()) -> Hit:
    chunk = StoredChunk(number, "c", f"/f{number}.txt", 0, 0, len(text), text)
    return Hit(chunk, 1.0 / number, number, None, 0.5, anchors)


def test_reranking_orders_by_score_and_keeps_exact_codes_first() -> None:
    hits = [hit(1, "short"), hit(2, "a much longer passage"), hit(3, "code", ("q731b",))]
    order = [h.chunk.id for h in rerank(FakeReranker(), "q", hits)]  # type: ignore[arg-type]
    assert order == [3, 2, 1]


def test_a_reranker_from_the_hub_is_chosen_like_an_embedding_model(
    hub_endpoint: LoopbackHub,
    tmp_path: Path,
    corpus: Path,
    minilm: Embedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkpoint, _, _ = tiny_cross_encoder(tmp_path / "ce")
    files = {p.name: p for p in checkpoint.iterdir() if p.is_file()}
    hub_endpoint.add_repo("test-org/tiny-reranker", files)
    other = tmp_path / "x.json"
    other.write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    hub_endpoint.add_repo(
        "test-org/not-a-reranker",
        {"config.json": other, "model.safetensors": checkpoint / "model.safetensors"},
    )
    use_converted_model(minilm)
    assert main(["docs", "reranker"]) == 0
    assert capsys.readouterr().out == "Searches are not reranked.\n"
    assert main(["docs", "reranker", "test-org/tiny-reranker"]) == 0
    assert "reranked by test-org/tiny-reranker" in capsys.readouterr().out
    assert installed_rerankers() == ["test-org/tiny-reranker"]

    assert main(["docs", "add", "farm", str(corpus)]) == 0
    documents = Documents(threads=1)  # as the window and the chat open it
    try:
        hits = documents.search(["farm"], "When is the herd shorn?", 5)
        assert all(h.rerank is not None for h in hits)  # the chosen reranker ordered them
        assert [h.rerank for h in hits] == sorted((h.rerank for h in hits), reverse=True)
    finally:
        documents.close()

    first_request = len(hub_endpoint.requests)
    assert main(["docs", "reranker", "test-org/not-a-reranker"]) == 1
    assert "not a reranker" in capsys.readouterr().err
    fetched = [r for r in hub_endpoint.requests[first_request:] if "/resolve/" in r]
    assert fetched and not any("safetensors" in r for r in fetched)  # refused before weights
    assert main(["docs", "reranker", "--off"]) == 0
    assert capsys.readouterr().out == "Searches are not reranked.\n"
