"""Real Hugging Face checkpoints for the conversion tests, built once per session.

- ``smollm_checkpoint`` (in tests/conftest.py): SmolLM2-135M-Instruct as the Hub has it.
- ``tiny_llama``: a random LLaMA with a SentencePiece tokenizer trained here, n_head ≠ n_kv_head
  and an added ``[PAD]`` token (Alpaca's layout).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from benchmarks.architectures import train_sentencepiece

# The scoring helpers live in tests/scoring.py; the names stay importable from here too.
from tests.scoring import agreement, llama_cpp_logits  # noqa: F401


def save_tiny_llama(folder: Path, model: LlamaForCausalLM, tokenizer_model: Path) -> Path:
    """A LLaMA checkpoint folder as alpaca-era repos have it: SentencePiece + [PAD]."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    (folder / "tokenizer.model").write_bytes(tokenizer_model.read_bytes())
    pad_id = model.config.vocab_size - 1
    (folder / "added_tokens.json").write_text(json.dumps({"[PAD]": pad_id}))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "pad_token": "[PAD]",
                "add_bos_token": True,
                "add_eos_token": False,
            }
        )
    )
    return folder


def tiny_config(vocab_size: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        initializer_range=0.2,  # peaked distributions: no near-ties in the top-1 comparison
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=vocab_size - 1,
        tie_word_embeddings=False,
    )


@pytest.fixture(scope="session")
def sentencepiece_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_sentencepiece(tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory, sentencepiece_model: Path) -> Path:
    import sentencepiece as spm

    base_size = spm.SentencePieceProcessor(model_file=str(sentencepiece_model)).vocab_size()
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_config(base_size + 1)).to(torch.float32)
    return save_tiny_llama(
        tmp_path_factory.mktemp("tiny") / "tiny-llama", model, sentencepiece_model
    )


def hf_logits(folder: Path, tokens: list[int], model=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    model = model or AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].float().numpy()
