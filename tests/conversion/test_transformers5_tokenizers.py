"""Everything huacaya-train saves converts: transformers 5 writes ``tokenizer.json`` only (no
``tokenizer.model``), also for SentencePiece models. For every architecture the converter
supports, a tiny checkpoint whose tokenizer was saved by transformers 5 converts, and llama.cpp
tokenizes text into the ids transformers' own tokenizer gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sentencepiece as spm
import torch
from transformers import AutoTokenizer, LlamaForCausalLM, MistralConfig, MistralForCausalLM

from conversion.checkpoint import Checkpoint
from conversion.convert import convert
from conversion.vocab import json_space_prefix
from tests.conversion.architectures import ARCHITECTURES, TEXT, build_checkpoint
from tests.conversion.conftest import save_tiny_llama, tiny_config, train_sentencepiece
from tests.conversion.test_architectures import STRINGS

EXTRA = ["Hello world", "  two leading spaces", "trailing space ", "tabs\tand\nnew lines\n"]


def saved_by_transformers5(source: Path, folder: Path) -> Path:
    """The checkpoint's weights and config with its tokenizer as transformers 5 saves it."""
    folder.mkdir(parents=True)
    for file in source.iterdir():
        tokenizer_file = file.name.startswith("tokenizer") or file.name in (
            "added_tokens.json",
            "special_tokens_map.json",
        )
        if file.suffix in (".safetensors", ".json") and not tokenizer_file:
            shutil.copy(file, folder / file.name)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    assert not (folder / "tokenizer.model").exists()
    assert (folder / "tokenizer.json").is_file()
    return folder


def mistral_checkpoint(sentencepiece_model: Path, folder: Path) -> Path:
    """Mistral (7B v0.1's kind: LLaMA's SentencePiece, sliding window) with that tokenizer."""
    folder.mkdir(parents=True)
    size = spm.SentencePieceProcessor(model_file=str(sentencepiece_model)).vocab_size()
    config = MistralConfig(
        vocab_size=size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(folder)
    (folder / "tokenizer.model").write_bytes(sentencepiece_model.read_bytes())
    (folder / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", '
        '"unk_token": "<unk>", "add_bos_token": true, "add_eos_token": false}'
    )
    return folder


KINDS = ["llama2-alpaca", "mistral", "smollm2", *sorted(ARCHITECTURES)]


@pytest.fixture(scope="module")
def llama_sentencepiece(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained like LLaMA's and Mistral's tokenizer.model: whitespace kept as it is."""
    folder = tmp_path_factory.mktemp("llama-spm")
    return train_sentencepiece(
        folder, remove_extra_whitespaces=False, normalization_rule_name="identity"
    )


@pytest.fixture(params=KINDS)
def checkpoint(request, tmp_path: Path, llama_sentencepiece: Path) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    kind = request.param
    if kind == "llama2-alpaca":  # LLaMA-2's SentencePiece + Alpaca's [PAD], as a fine-tune has
        size = spm.SentencePieceProcessor(model_file=str(llama_sentencepiece)).vocab_size()
        torch.manual_seed(0)
        model = LlamaForCausalLM(tiny_config(size + 1))
        source = save_tiny_llama(tmp_path / "llama-source", model, llama_sentencepiece)
    elif kind == "mistral":
        source = mistral_checkpoint(llama_sentencepiece, tmp_path / "mistral-source")
    elif kind == "smollm2":  # LLaMA-shaped, byte-level BPE
        source = request.getfixturevalue("smollm_checkpoint")
    else:
        source = build_checkpoint(kind, tmp_path / f"{kind}-source")
    return kind, saved_by_transformers5(source, tmp_path / kind)


def test_a_checkpoint_saved_by_transformers5_converts_and_tokenizes_alike(
    checkpoint: tuple[str, Path], tmp_path: Path
) -> None:
    import llama_cpp

    kind, folder = checkpoint
    spm_family = kind in ("llama2-alpaca", "mistral", "gemma2", "gemma3", "phi3")
    ckpt = Checkpoint.read(folder)
    assert ckpt.tokenizer == ("sentencepiece" if spm_family else "bpe")
    result = convert(folder, tmp_path / f"{kind}.gguf", "f16")
    hf = AutoTokenizer.from_pretrained(folder)
    llm = llama_cpp.Llama(model_path=str(result.path), vocab_only=True, verbose=False)
    # transformers 5's LLaMA tokenizer adds no "▁" before a text that begins with a space;
    # llama.cpp, like SentencePiece itself, always adds one (see conversion.vocab)
    first = hf.convert_ids_to_tokens(hf(" a", add_special_tokens=False)["input_ids"])[0]
    skips_prefix = spm_family and first != "▁" and json_space_prefix(ckpt) is not False
    try:
        for text in [*STRINGS, *EXTRA, TEXT]:
            got = llm.tokenize(text.encode(), add_bos=True, special=False)
            leading = skips_prefix and text.startswith(" ")
            expected = hf(" " + text if leading else text)["input_ids"]
            assert got == expected, (kind, text, hf.convert_ids_to_tokens(expected))
    finally:
        llm.close()
