"""A tiny random LLaMA with a SentencePiece tokenizer trained here: the SentencePiece path, GQA
permutation, an added [PAD] token, LoRA merging and Alpaca weight-diff recovery."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
import sentencepiece as spm
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from conversion.convert import convert
from conversion.train.lora import peft_checkpointing_warning_ignored
from conversion.weight_diff import RecoveredFromDiff
from tests.conversion.conftest import hf_logits, save_tiny_llama, tiny_config
from tests.scoring import agreement, llama_cpp_logits

TEXT = "Alpacas are domesticated camelids. Paris is the capital of France; numbers: 12, 345."


def sample_tokens(sentencepiece_model: Path) -> list[int]:
    processor = spm.SentencePieceProcessor(model_file=str(sentencepiece_model))
    return [processor.bos_id(), *processor.encode(TEXT)]


def test_sentencepiece_vocab_with_added_pad(
    tiny_llama: Path, sentencepiece_model: Path, tmp_path: Path
) -> None:
    out = convert(tiny_llama, tmp_path / "tiny.gguf", "f32").path
    reader = gguf.GGUFReader(out)
    value = lambda key: reader.fields[key].contents()  # noqa: E731
    processor = spm.SentencePieceProcessor(model_file=str(sentencepiece_model))
    tokens = value("tokenizer.ggml.tokens")
    assert value("tokenizer.ggml.model") == "llama"
    assert len(tokens) == processor.vocab_size() + 1
    assert tokens[-1] == "[PAD]"
    assert tokens[: processor.vocab_size()] == [
        processor.id_to_piece(i) for i in range(processor.vocab_size())
    ]
    types = value("tokenizer.ggml.token_type")
    assert types[-1] == gguf.TokenType.USER_DEFINED
    assert types[processor.bos_id()] == gguf.TokenType.CONTROL
    assert value("tokenizer.ggml.bos_token_id") == processor.bos_id()
    assert value("tokenizer.ggml.add_bos_token") is True
    assert value("llama.attention.head_count_kv") == 2
    # llama.cpp tokenizes like SentencePiece itself
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(out), vocab_only=True, verbose=False)
    try:
        assert llm.tokenize(TEXT.encode()) == sample_tokens(sentencepiece_model)
    finally:
        llm.close()


def test_tiny_llama_logits_match_transformers(
    tiny_llama: Path, sentencepiece_model: Path, tmp_path: Path
) -> None:
    out = convert(tiny_llama, tmp_path / "tiny.gguf", "f32").path
    tokens = sample_tokens(sentencepiece_model)
    top1, kl = agreement(hf_logits(tiny_llama, tokens), llama_cpp_logits(out, tokens))
    assert top1 >= 0.99
    assert kl <= 1e-4


def test_lora_merge_matches_peft(
    tiny_llama: Path, sentencepiece_model: Path, tmp_path: Path
) -> None:
    base = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    torch.manual_seed(1)
    config = LoraConfig(
        r=4,
        lora_alpha=16,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        init_lora_weights=False,
        lora_dropout=0.0,
    )
    with peft_checkpointing_warning_ignored():  # peft's own deprecation, as in training
        adapted = get_peft_model(base, config)
    adapter_dir = tmp_path / "adapter"
    adapted.save_pretrained(adapter_dir)
    assert (adapter_dir / "adapter_model.safetensors").is_file()

    with peft_checkpointing_warning_ignored():
        reference = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32), adapter_dir
        ).merge_and_unload()
    out = convert(tiny_llama, tmp_path / "merged.gguf", "f32", lora=adapter_dir).path
    tokens = sample_tokens(sentencepiece_model)
    expected = hf_logits(tiny_llama, tokens, model=reference)
    unmerged = llama_cpp_logits(convert(tiny_llama, tmp_path / "base.gguf", "f32").path, tokens)
    merged = llama_cpp_logits(out, tokens)
    assert not np.allclose(expected, unmerged, atol=1e-2)  # the adapter really changes things
    top1, kl = agreement(expected, merged)
    assert top1 >= 0.99
    assert kl <= 1e-4


def dequantized(tensor: gguf.ReaderTensor) -> np.ndarray:
    return gguf.quants.dequantize(tensor.data, tensor.tensor_type)


def on_grid(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.round(parameter * 256) / 256)
    return model.to(torch.bfloat16)


def test_weight_diff_recovers_the_tuned_model_exactly(
    tmp_path: Path, sentencepiece_model: Path
) -> None:
    base_size = spm.SentencePieceProcessor(model_file=str(sentencepiece_model)).vocab_size()
    torch.manual_seed(2)
    # Weights on a 1/256 grid: tuned - raw and raw + diff are then exact in float32, so any
    # difference below is the recovery's fault, not rounding's.
    raw = on_grid(AutoModelForCausalLM.from_config(tiny_config(base_size)))
    raw_dir = tmp_path / "llama-raw"
    raw.save_pretrained(raw_dir)
    (raw_dir / "tokenizer.model").write_bytes(sentencepiece_model.read_bytes())

    tuned = on_grid(AutoModelForCausalLM.from_config(tiny_config(base_size + 1)))
    tuned_dir = save_tiny_llama(tmp_path / "alpaca-tuned", tuned, sentencepiece_model)

    raw_state = {k: v.float() for k, v in raw.state_dict().items()}
    for key in ("model.embed_tokens.weight", "lm_head.weight"):  # the recipe's [PAD] resize
        mean = raw_state[key].double().mean(dim=0, keepdim=True).float()
        raw_state[key] = torch.cat([raw_state[key], mean])
    diff = AutoModelForCausalLM.from_config(tiny_config(base_size + 1)).to(torch.float32)
    diff.load_state_dict({k: v.float() - raw_state[k] for k, v in tuned.state_dict().items()})
    diff_dir = save_tiny_llama(tmp_path / "alpaca-diff", diff, sentencepiece_model)

    recovered = convert(diff_dir, tmp_path / "recovered.gguf", "bf16", recover_from=raw_dir)
    direct = convert(tuned_dir, tmp_path / "direct.gguf", "bf16").path
    ours = {t.name: dequantized(t) for t in gguf.GGUFReader(recovered.path).tensors}
    theirs = {t.name: dequantized(t) for t in gguf.GGUFReader(direct).tensors}
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert np.array_equal(ours[name], theirs[name]), name  # numerically: -0.0 == 0.0
    expected_sum = sum(
        float(v.float().sum(dtype=torch.float64)) for v in tuned.state_dict().values()
    )
    assert abs(recovered.integrity["sum"] - expected_sum) < 1e-3
    assert recovered.integrity["passed"] is False  # it is not Alpaca-7B


def test_integrity_check_compares_against_the_release_sum() -> None:
    class Source:
        def __init__(self, value: float) -> None:
            self.value = value

        def names(self) -> list[str]:
            return ["w"]

        def shape(self, name: str) -> tuple[int, ...]:
            return (2,)

        def float32(self, name: str) -> np.ndarray:
            return np.full(2, self.value, dtype=np.float32)

    recovered = RecoveredFromDiff(Source(25318.59180), Source(0.0))
    recovered.float32("w")
    assert recovered.integrity()["passed"] is True
    wrong = RecoveredFromDiff(Source(25000.0), Source(0.0))
    wrong.float32("w")
    assert wrong.integrity()["passed"] is False


def test_mistral_and_llama3_rope_scaling_match_transformers(
    tmp_path: Path, sentencepiece_model: Path
) -> None:
    from transformers import MistralConfig, MistralForCausalLM

    base_size = spm.SentencePieceProcessor(model_file=str(sentencepiece_model)).vocab_size()
    tokens = sample_tokens(sentencepiece_model)
    torch.manual_seed(3)
    llama3 = tiny_config(base_size + 1)
    llama3.rope_parameters = {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    }
    shared = tiny_config(base_size + 1).to_dict()
    mistral = MistralConfig(**{k: v for k, v in shared.items() if k in MistralConfig().to_dict()})
    for label, model in (
        ("llama3", AutoModelForCausalLM.from_config(llama3)),
        ("mistral", MistralForCausalLM(mistral)),
    ):
        folder = save_tiny_llama(tmp_path / label, model.to(torch.float32), sentencepiece_model)
        out = convert(folder, tmp_path / f"{label}.gguf", "f32").path
        names = {t.name for t in gguf.GGUFReader(out).tensors}
        assert ("rope_freqs.weight" in names) == (label == "llama3")
        top1, kl = agreement(hf_logits(folder, tokens), llama_cpp_logits(out, tokens))
        assert top1 >= 0.99, label
        assert kl <= 1e-4, label


def test_lora_adapter_and_hf_folder_imports_go_through_the_pipeline(
    tiny_llama: Path, tmp_path: Path
) -> None:
    from desktop.core.hub.client import HubClient
    from desktop.core.jobs.runner import JobRunner
    from desktop.core.jobs.store import JobSpec, JobStore
    from desktop.core.models.library import ModelLibrary

    base = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    config = LoraConfig(
        r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    adapter = tmp_path / "adapter"
    with peft_checkpointing_warning_ignored():  # peft's own deprecation, as in training
        get_peft_model(base, config).save_pretrained(adapter)
    store, library = JobStore(), ModelLibrary()
    runner = JobRunner(store, library, HubClient(lambda: None, lambda: True))
    merged = runner.run(
        store.create(
            JobSpec("import", str(adapter), quant="q8_0", base=str(tiny_llama), name="Tiny + LoRA")
        )
    )
    plain = runner.run(store.create(JobSpec("import", str(tiny_llama), quant="", name="Tiny")))
    assert (merged.quantization, plain.quantization) == ("Q8_0", "F16")
    assert {e.name for e in library.entries()} == {"Tiny + LoRA", "Tiny"}
    with pytest.raises(Exception, match="LoRA adapter"):
        runner.run(store.create(JobSpec("import", str(adapter), quant="")))
