"""Qwen2, Qwen3, Gemma 2, Gemma 3 and Phi-3: tiny random checkpoints made with transformers →
our GGUF → llama.cpp. The logits agree with transformers', llama.cpp tokenizes like the Hugging
Face tokenizer, and the app renders the model's chat template into the same tokens."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest
from transformers import AutoTokenizer

from benchmarks.architectures import ARCHITECTURES
from conversion.convert import convert
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import AnswerRequest
from desktop.core.settings import GenerationSettings
from tests.conversion.architectures import TEXT, build_checkpoint
from tests.conversion.conftest import hf_logits
from tests.scoring import agreement, llama_cpp_logits

EXPECTED = {  # GGUF architecture, tokenizer model, pre-tokenizer
    "qwen2": ("qwen2", "gpt2", "qwen2"),
    "qwen3": ("qwen3", "gpt2", "qwen2"),
    "gemma2": ("gemma2", "llama", "default"),
    "gemma3": ("gemma3", "llama", "default"),
    "phi3": ("phi3", "llama", "default"),
}
STRINGS = [
    "Hello world",
    " leading space and  double  spaces",
    "Numbers: 12345 and 3.14; symbols %$#!",
    "Ünïcödé — café, naïve, 東京",
    "line one\nline two\n\n\ttabbed",
]
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "Apple."},
        {"role": "user", "content": "Another one?"},
    ],
]


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def converted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    kind = request.param
    folder = build_checkpoint(kind, tmp_path_factory.mktemp(kind) / f"tiny-{kind}")
    result = convert(folder, folder.parent / f"{kind}-f16.gguf", "f16")
    return kind, folder, result


def reference_ids(kind: str, folder: Path, text: str, add_special: bool) -> list[int]:
    """What the model's own tokenizer makes of ``text``. Phi-3's is SentencePiece in the
    "legacy" LLaMA way (each text run between special tokens gets the ▁ prefix) with its chat
    tokens stripping the whitespace after them (``rstrip`` in Phi-3's tokenizer.json, which
    llama.cpp applies to models named Phi-3); transformers 5 no longer builds that from a bare
    tokenizer.model. The others': transformers."""
    if kind != "phi3":
        return AutoTokenizer.from_pretrained(folder)(text, add_special_tokens=add_special)[
            "input_ids"
        ]
    import re

    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    specials = json.loads((folder / "added_tokens.json").read_text())
    ids: list[int] = []
    strip = False
    for part in re.split("(" + "|".join(map(re.escape, specials)) + ")", text):
        if part in specials:
            ids.append(specials[part])
            strip = part != "<|endoftext|>"
        elif part.lstrip() if strip else part:
            ids.extend(processor.encode(part.lstrip() if strip else part))
    return ids  # Phi-3 adds no BOS


def metadata(path: Path) -> dict:  # type: ignore[type-arg]
    reader = gguf.GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def test_logits_match_transformers_at_f16(converted) -> None:  # type: ignore[no-untyped-def]
    kind, folder, result = converted
    tokens = reference_ids(kind, folder, TEXT, add_special=True)
    assert len(tokens) > 40  # beyond Gemma's sliding window of 8
    top1, kl = agreement(hf_logits(folder, tokens), llama_cpp_logits(result.path, tokens))
    print(f"{kind}: {len(tokens)} positions, top-1 {top1:.4f}, KL {kl:.2e}")
    assert top1 >= 0.99
    assert kl <= 1e-3


def test_metadata_names_the_architecture_and_tokenizer(converted) -> None:  # type: ignore[no-untyped-def]
    kind, _folder, result = converted
    values = metadata(result.path)
    arch, model, pre = EXPECTED[kind]
    assert values["general.architecture"] == arch
    assert values["tokenizer.ggml.model"] == model
    assert values["tokenizer.ggml.pre"] == pre
    assert result.chat_template == "model"
    if kind.startswith("gemma"):
        assert values["tokenizer.ggml.add_space_prefix"] is False
        assert values[f"{arch}.attention.sliding_window"] == 8
    if kind == "gemma2":
        assert values["gemma2.attn_logit_softcapping"] == pytest.approx(5.0)
        assert values["gemma2.final_logit_softcapping"] == pytest.approx(3.0)


def test_llama_cpp_tokenizes_like_the_hf_tokenizer(converted) -> None:  # type: ignore[no-untyped-def]
    import llama_cpp

    kind, folder, result = converted
    llm = llama_cpp.Llama(model_path=str(result.path), vocab_only=True, verbose=False)
    try:
        for text in [*STRINGS, TEXT]:
            expected = reference_ids(kind, folder, text, add_special=True)
            assert llm.tokenize(text.encode(), add_bos=True, special=False) == expected, text
    finally:
        llm.close()


def test_chat_template_renders_like_transformers(converted) -> None:  # type: ignore[no-untyped-def]
    kind, folder, result = converted
    hf = AutoTokenizer.from_pretrained(folder)
    engine = ChatEngine(result.path, context_length=512)
    engine.load()
    try:
        assert engine.prompt_format_name == "auto"
        for messages in CONVERSATIONS:
            if kind.startswith("gemma") and messages[0]["role"] == "system":
                # Gemma's template refuses a system turn; the app folds it into the question
                folded = [dict(m) for m in messages[1:]]
                folded[0]["content"] = f"{messages[0]['content']}\n\n{folded[0]['content']}"
                reference = folded
            else:
                reference = messages
            text = hf.apply_chat_template(reference, tokenize=False, add_generation_prompt=True)
            expected = reference_ids(kind, folder, text, add_special=False)
            tokens = engine.fit(AnswerRequest(messages, GenerationSettings())).tokens
            assert tokens == expected, (kind, messages)
    finally:
        engine.close()


def test_an_unknown_bpe_split_is_refused_naming_its_hash(tmp_path: Path) -> None:
    from benchmarks.architectures import qwen_tokenizer
    from conversion.errors import UnsupportedModelError
    from conversion.vocab import pre_tokenizer_name

    folder = tmp_path / "odd"
    qwen_tokenizer(folder)
    data = json.loads((folder / "tokenizer.json").read_text())
    data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\s+|\S+"
    with pytest.raises(UnsupportedModelError, match=r"pre-tokenizer hash [0-9a-f]{16}"):
        pre_tokenizer_name(data)
