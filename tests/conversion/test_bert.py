"""all-MiniLM-L6-v2 (BertModel, WordPiece, mean pooling) converted by us and run by llama.cpp
gives the embeddings sentence-transformers would: transformers + the same pooling and
normalisation, cosine ≥ 0.999 on 100 sentences."""

from __future__ import annotations

import itertools
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from conversion import llama_log
from desktop.core.models.embedding_model import embedding_checkpoint, ensure_embedding_model

SUBJECTS = ["The alpaca", "My neighbour's cat", "A small startup", "The river", "Our teacher"]
ACTIONS = [
    "walked slowly towards",
    "wrote a long letter about",
    "could not stop thinking of",
    "sold",
    "painted a picture of",
]
OBJECTS = [
    "the old mountain village.",
    "quantum computers and their 3 main uses!",
    "Paris, the capital of France",
    "a recipe for bread (with 500 g of flour)",
    "the café near the station — naïve but charming",
]
SENTENCES = [
    f"{s} {a} {o}"
    for s, a, o in itertools.islice(itertools.product(SUBJECTS, ACTIONS, OBJECTS), 96)
] + [
    "What is the capital of France?",
    "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "東京は日本の首都です。",
    "   leading spaces, UPPERCASE words and unusualwordsthatsplitintopieces   ",
]


@pytest.fixture(scope="module", params=["f16", "bf16"])
def minilm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """f16, and bf16, which the app uses where the CPU multiplies it natively."""
    folder = tmp_path_factory.mktemp("embeddings")
    return ensure_embedding_model(request.param, folder=folder)


def reference_embeddings(checkpoint: Path, sentences: list[str]) -> np.ndarray:
    """sentence-transformers' recipe: mean of the token states over the mask, L2-normalised."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModel.from_pretrained(checkpoint, dtype=torch.float32).eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (states * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_embeddings_match_sentence_transformers(minilm) -> None:  # type: ignore[no-untyped-def]
    import llama_cpp

    assert len(SENTENCES) == 100
    expected = reference_embeddings(embedding_checkpoint(), SENTENCES)
    llama_log.install()  # llama.cpp as the app runs it
    llm = llama_cpp.Llama(
        model_path=str(minilm.path), embedding=True, n_ctx=512, n_threads=2, verbose=False
    )
    try:
        ours = np.array([llm.embed(s, normalize=minilm.normalize) for s in SENTENCES])
    finally:
        llm.close()
    assert ours.shape == (100, minilm.dimensions) == (100, 384)
    cosine = (ours * expected).sum(-1) / np.linalg.norm(ours, axis=-1)
    print(f"{minilm.path.name} cosine: min {cosine.min():.6f}, mean {cosine.mean():.6f}")
    assert cosine.min() >= 0.999
    # and the vectors are really sentence-specific (not, say, all the same)
    assert float((expected[0] * expected[50]).sum()) < 0.95


def test_gguf_has_bert_metadata_and_tokenizes_like_transformers(minilm) -> None:  # type: ignore[no-untyped-def]
    import llama_cpp

    reader = gguf.GGUFReader(minilm.path)
    value = lambda key: reader.fields[key].contents()  # noqa: E731
    assert value("general.architecture") == "bert"
    assert value("bert.pooling_type") == gguf.PoolingType.MEAN
    assert value("bert.attention.causal") is False
    assert value("tokenizer.ggml.model") == "bert"
    assert value("tokenizer.ggml.pre") == "jina-v2-en"  # llama.cpp's name for this vocabulary
    assert "tokenizer.chat_template" not in reader.fields  # an encoder: nothing to chat with
    assert value("tokenizer.ggml.normalizer.lowercase") is True  # an uncased model
    tokenizer = AutoTokenizer.from_pretrained(embedding_checkpoint())
    llm = llama_cpp.Llama(model_path=str(minilm.path), vocab_only=True, verbose=False)
    try:
        for sentence in SENTENCES[::9]:
            assert llm.tokenize(sentence.encode()) == tokenizer(sentence)["input_ids"], sentence
    finally:
        llm.close()


def test_q8_0_embedding_model_and_reuse(tmp_path: Path) -> None:
    first = ensure_embedding_model("q8_0", folder=tmp_path)
    assert first.path.name == "all-MiniLM-L6-v2-q8_0.gguf"
    assert first.max_tokens == 256 and first.normalize
    stamp = first.path.stat().st_mtime_ns
    assert ensure_embedding_model("q8_0", folder=tmp_path).path.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all-MiniLM-L6-v2-q8_0.gguf"]


def test_an_embedding_model_is_not_imported_as_a_chat_model() -> None:
    from conversion.errors import LibraryError
    from desktop.core.hub.client import HubClient
    from desktop.core.jobs.runner import JobRunner
    from desktop.core.jobs.store import JobSpec, JobStore
    from desktop.core.models.library import ModelLibrary

    store, library = JobStore(), ModelLibrary()
    runner = JobRunner(store, library, HubClient(lambda: None, lambda: True))
    job = store.create(JobSpec("import", str(embedding_checkpoint()), quant=""))
    with pytest.raises(LibraryError, match="embedding model"):
        runner.run(job)
    assert library.entries() == []


def test_normalizer_flags_tell_llama_cpp_whether_to_lowercase() -> None:
    from conversion.archs.bert import normalizer_flags

    cased = {"type": "BertNormalizer", "lowercase": False, "strip_accents": None}
    assert normalizer_flags(cased) == {"lowercase": False}  # llama.cpp would lowercase
    sequence = {"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "NFD"}]}
    assert normalizer_flags(sequence) == {"lowercase": True}
    assert normalizer_flags(None) == {}
