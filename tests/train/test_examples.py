"""Stanford's supervised examples: exactly the response and its EOS carry loss; ``[PAD]`` is
added with mean embeddings when a tokenizer has no pad token."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    TrainingArguments,
)

from conversion.alpaca import PROMPT_INPUT, PROMPT_NO_INPUT
from conversion.train.cli import main
from conversion.train.data import Record
from conversion.train.distributed import fsdp_arguments
from conversion.train.examples import IGNORE_INDEX, build_example
from conversion.train.model import PAD_TOKEN, add_pad_token, decoder_layer_classes

WITH_INPUT = Record("Translate to French.", "Good morning", "Bonjour")
WITHOUT_INPUT = Record("Name three primary colours.", "", "Red, yellow and blue.")


def test_only_the_response_and_eos_carry_loss(smollm_checkpoint: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(smollm_checkpoint)
    for record, template in ((WITH_INPUT, PROMPT_INPUT), (WITHOUT_INPUT, PROMPT_NO_INPUT)):
        prompt = template.format(instruction=record.instruction, input=record.input)
        assert prompt.endswith("### Response:")  # Stanford's: no newline after it
        example = build_example(record, tokenizer, max_length=512)
        full = tokenizer(prompt + record.output + tokenizer.eos_token)["input_ids"]
        source = tokenizer(prompt)["input_ids"]
        assert example.input_ids == full
        assert example.labels[: len(source)] == [IGNORE_INDEX] * len(source)
        trained = example.labels[len(source) :]
        assert trained == full[len(source) :] and IGNORE_INDEX not in trained
        assert trained[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(trained) == record.output + tokenizer.eos_token
        assert tokenizer.decode(example.input_ids[: len(source)]) == prompt


def test_truncation_at_max_length_keeps_stanford_s_rule(smollm_checkpoint: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(smollm_checkpoint)
    long = Record("Repeat the word.", "", "word " * 400)
    example = build_example(long, tokenizer, max_length=64)
    assert len(example.input_ids) == len(example.labels) == 64
    assert 0 < example.trained_tokens < 64  # cut before its EOS, prompt still masked
    prompt_only = build_example(Record("x " * 200, "", "y"), tokenizer, max_length=32)
    assert prompt_only.trained_tokens == 0  # the whole window is prompt


def test_a_missing_pad_token_is_added_with_the_mean_embedding(tiny_model: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.pad_token = None
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    inputs = model.get_input_embeddings().weight.detach().clone()
    outputs = model.get_output_embeddings().weight.detach().clone()
    assert add_pad_token(tokenizer, model)
    assert tokenizer.pad_token == PAD_TOKEN and tokenizer.pad_token_id == len(inputs)
    assert model.config.vocab_size == len(inputs) + 1 == len(tokenizer)
    new_in = model.get_input_embeddings().weight[-1]
    new_out = model.get_output_embeddings().weight[-1]
    torch.testing.assert_close(new_in, inputs.mean(0))
    torch.testing.assert_close(new_out, outputs.mean(0))
    torch.testing.assert_close(model.get_input_embeddings().weight[:-1], inputs)
    assert not add_pad_token(tokenizer, model)  # it has one now: nothing changes


def test_fsdp_wraps_each_model_s_own_decoder_layer(tiny_model: Path, tmp_path: Path) -> None:
    model = LlamaForCausalLM.from_pretrained(tiny_model)
    assert decoder_layer_classes(model) == ["LlamaDecoderLayer"]
    qwen = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    )
    assert decoder_layer_classes(qwen) == ["Qwen2DecoderLayer"]
    # what the Trainer makes of it: accelerate's FSDP plugin, full shard, wrapping that class
    args = TrainingArguments(
        output_dir=str(tmp_path), report_to="none", **fsdp_arguments(["Qwen2DecoderLayer"])
    )
    plugin = args.fsdp_plugin_args
    assert plugin["transformer_cls_names_to_wrap"] == "Qwen2DecoderLayer"
    assert plugin["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert plugin["reshard_after_forward"] is True  # full shard
    assert plugin["state_dict_type"] == "FULL_STATE_DICT"


def test_fsdp_and_deepspeed_without_gpus_are_refused_before_anything_is_written(
    tiny_model: Path, seed_tasks: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for option in ("--fsdp", "--deepspeed"):
        out = tmp_path / option.strip("-")
        code = main(
            ["--base", str(tiny_model), "--data", str(seed_tasks), "--out", str(out), option]
        )
        assert code == 1 and "needs CUDA GPUs" in capsys.readouterr().err
        assert not out.exists()
