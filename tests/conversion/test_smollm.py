"""SmolLM2 (BPE, GQA, tied embeddings) converted by us vs the starter GGUF made by llama.cpp's
converter, and vs transformers' logits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from conversion.convert import convert
from conversion.quantize import quantize
from desktop.core.chat.engine import ChatEngine
from tests.conftest import scratch_folder
from tests.conversion.conftest import hf_logits
from tests.scoring import CAPITAL_OF_FRANCE, PARIS_MARGIN, Scorer, agreement, llama_cpp_logits

PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWrite a haiku about alpacas.<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "Alpacas are domesticated camelids that live in the Andes, and their fleece",
    "Stanford Alpaca is an instruction-following language model, fine-tuned from LLaMA on "
    "52,000 demonstrations generated in the style of self-instruct. Its authors showed that",
    "Once upon a time, in a small village high in the mountains, there lived an old shepherd "
    "who kept a herd of alpacas. Every morning he led them to the green pastures by the lake, "
    "and every evening he counted them as they came home. One day, one of the young alpacas "
    "did not come back, and the shepherd went out into the cold night to look for it.",
    "To make bread, mix flour, water, salt and yeast. Knead the dough for ten minutes, let it "
    "rise for an hour, shape it into a loaf and bake it at 220 degrees for thirty minutes.",
]
TOKENIZER_KEYS = [
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_space_prefix",
    "tokenizer.chat_template",
]


def fields(path: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    reader = gguf.GGUFReader(path)
    values = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    tensors = {t.name: (tuple(int(d) for d in t.shape), t.tensor_type) for t in reader.tensors}
    return values, tensors


@pytest.fixture(scope="module")
def converted_f16(
    smollm_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    with scratch_folder(tmp_path_factory, "f16") as folder:
        out = folder / "smollm2-f16.gguf"
        result = convert(smollm_checkpoint, out, "f16")
        assert result.chat_template == "model"
        yield out


def test_f16_matches_llama_cpps_own_conversion(converted_f16: Path, starter_path: Path) -> None:
    ours, our_tensors = fields(converted_f16)
    reference, reference_tensors = fields(starter_path)
    hyper = sorted(k for k in reference if k.startswith("llama."))
    assert hyper  # block_count, context_length, head counts, rope, eps, vocab size…
    assert {k: ours.get(k) for k in hyper} == {k: reference[k] for k in hyper}
    assert {k: ours.get(k) for k in TOKENIZER_KEYS} == {k: reference[k] for k in TOKENIZER_KEYS}
    assert {n: s for n, (s, _) in our_tensors.items()} == {
        n: s for n, (s, _) in reference_tensors.items()
    }
    assert "output.weight" not in our_tensors  # tied embeddings
    types = {name: kind for name, (_, kind) in our_tensors.items()}
    assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert ours["general.file_type"] == gguf.LlamaFileType.MOSTLY_F16


@pytest.mark.parametrize("outtype", ["f16", "bf16"])
def test_logits_match_transformers(
    outtype: str, smollm_checkpoint: Path, converted_f16: Path, tmp_path: Path
) -> None:
    path = converted_f16
    if outtype == "bf16":
        path = convert(smollm_checkpoint, tmp_path / "bf16.gguf", "bf16").path
    engine = ChatEngine(path)
    engine.load()
    token_lists = [engine.tokenize(p) for p in PROMPTS]
    engine.close()
    reference = np.concatenate([hf_logits(smollm_checkpoint, t) for t in token_lists])
    ours = np.concatenate([llama_cpp_logits(path, t) for t in token_lists])
    assert len(reference) > 200  # positions compared
    top1, kl = agreement(reference, ours)
    print(f"{outtype}: {len(reference)} positions, top-1 agreement {top1:.4f}, mean KL {kl:.2e}")
    assert top1 >= 0.99
    assert kl <= 1e-3


def test_auto_keeps_the_sources_bf16(smollm_checkpoint: Path, tmp_path: Path) -> None:
    result = convert(smollm_checkpoint, tmp_path / "auto.gguf", "auto")
    assert result.outtype == "bf16"


def test_q8_0_and_q4_k_m_keep_the_f16_models_predictions_and_knowledge(
    smollm_checkpoint: Path, converted_f16: Path, tmp_path: Path
) -> None:
    q8 = convert(smollm_checkpoint, tmp_path / "q8.gguf", "q8_0").path
    steps: list[float] = []
    q4 = quantize(converted_f16, tmp_path / "q4km.gguf", "q4_k_m", lambda f, m="": steps.append(f))
    assert q4.bytes_written < q8.stat().st_size < converted_f16.stat().st_size
    assert len(steps) > 100 and steps == sorted(steps)  # one report per tensor, in order
    assert fields(q4.path)[0]["general.file_type"] == gguf.LlamaFileType.MOSTLY_Q4_K_M
    with Scorer(converted_f16) as scorer:
        token_lists = [scorer.tokenize(p) for p in PROMPTS]
        reference = np.concatenate([scorer.logits(t) for t in token_lists])
    # Seen here: q8_0 top-1 0.961, KL 0.0053; q4_k_m top-1 0.852, KL 0.076; Paris leads London
    # by 4.1 and 3.0 nats. A wrong permutation or scale gives top-1 below 0.2.
    for path, min_top1, max_kl in ((q8, 0.93, 0.02), (q4.path, 0.8, 0.15)):
        with Scorer(path) as scorer:
            top1, kl = agreement(reference, np.concatenate([scorer.logits(t) for t in token_lists]))
            paris = scorer.prefers(*CAPITAL_OF_FRANCE)
        print(f"{path.name}: top-1 {top1:.4f}, KL {kl:.4f}, Paris leads {paris}")
        assert top1 >= min_top1 and kl <= max_kl, (path.name, top1, kl)
        assert paris.margin >= PARIS_MARGIN, (path.name, paris)


def test_alpaca_template_can_be_forced(smollm_checkpoint: Path, tmp_path: Path) -> None:
    from conversion import alpaca

    result = convert(smollm_checkpoint, tmp_path / "alpaca.gguf", "f16", template="alpaca")
    assert result.chat_template == "alpaca"
    assert fields(result.path)[0]["tokenizer.chat_template"] == alpaca.CHAT_TEMPLATE
