"""Short real runs on SmolLM2-135M-Instruct and Stanford's seed tasks, met the way a user meets
them: the loss falls, the model learns to stop (EOS), and the result lands in the app's library,
where the app's engine answers a trained instruction in the Alpaca format."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conversion import alpaca
from conversion.progress import CancelToken
from conversion.train.callbacks import TrainStatus
from conversion.train.data import Record
from conversion.train.examples import build_example
from conversion.train.export import export_to_library
from conversion.train.packing import REAL_TOKENS, PackedCollator
from conversion.train.recipe import TrainConfig
from conversion.train.run import TrainResult, train
from conversion.train.run_record import read_metrics
from desktop.core.chat.engine import ChatEngine
from desktop.core.models.library import ModelLibrary
from tests.conftest import greedy, scratch_folder
from tests.train.conftest import ROOT, write_records

STEPS = 6


@pytest.fixture(scope="module")
def trained_records(short_seed_records: list[Record]) -> list[Record]:
    return short_seed_records[:4]


def _quick(base: Path, data: Path, out: Path, **overrides) -> TrainConfig:  # type: ignore[no-untyped-def]
    options = dict(global_batch=2, per_device_batch=2, max_length=128, max_steps=STEPS)
    options.update(save_steps=1000, **overrides)
    return TrainConfig(base=str(base), data=str(data), out=str(out), **options)


@pytest.fixture(scope="module")
def full_run(
    smollm_checkpoint: Path, trained_records: list[Record], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TrainResult, list[TrainStatus], list[tuple[float, str]]]]:
    with scratch_folder(tmp_path_factory, "full") as folder:
        data = write_records(folder / "seed.jsonl", trained_records)
        statuses: list[TrainStatus] = []
        progress: list[tuple[float, str]] = []
        config = _quick(smollm_checkpoint, data, folder / "run", learning_rate=1e-4)
        result = train(config, lambda f, m="": progress.append((f, m)), on_status=statuses.append)
        yield result, statuses, progress


def test_full_fine_tune_loss_falls_and_the_run_is_recorded(full_run) -> None:  # type: ignore[no-untyped-def]
    result, statuses, progress = full_run
    out = result.out
    losses = [row.loss for row in read_metrics(out / "metrics.csv")]
    assert len(losses) == STEPS and result.steps == STEPS
    assert losses[-1] < 0.6 * losses[0], losses
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "finished" and manifest["steps"] == STEPS
    assert len(manifest["data_sha256"]) == 64 and manifest["versions"]["transformers"]
    assert manifest["arguments"]["learning_rate"] == 1e-4
    assert manifest["arguments"]["weight_decay"] == 0.0
    assert manifest["precision"]["compute"] == manifest["precision"]["weights"] == "fp32"
    # speed as the field reports it: peak memory everywhere, MFU where the peak is known
    rows = read_metrics(out / "metrics.csv")
    assert all(r.peak_memory_gib and r.peak_memory_gib > 0.1 and r.seconds for r in rows)
    assert manifest["peak_memory_gib"] > 0.1 and "mfu" in manifest
    if not torch.cuda.is_available():
        assert all(r.mfu is None for r in rows) and manifest["mfu"] is None
    assert "cpu_count" in manifest["hardware"] and manifest["padding_fraction"] < 0.05
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # progress: the same figures through the callback and the progress message
    assert [s.step for s in statuses] == list(range(1, STEPS + 1))
    assert all(s.tokens_per_second > 0 and s.total_steps == STEPS for s in statuses)
    assert statuses[-1].seconds_left == 0 and statuses[0].seconds_left > 0
    assert any("tokens/s" in m and "left" in m and "loss" in m and "GiB" in m for _, m in progress)
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # the model's own chat template is now Stanford's prompt
    template = (result.model_dir / "chat_template.jinja").read_text(encoding="utf-8")
    assert template == alpaca.CHAT_TEMPLATE


def test_the_fine_tuned_model_ends_its_answers_with_eos(
    full_run, trained_records: list[Record]
) -> None:  # type: ignore[no-untyped-def]
    """Measured, not read: the probability of EOS right after each trained response."""
    result = full_run[0]
    tokenizer = AutoTokenizer.from_pretrained(result.model_dir)
    model = AutoModelForCausalLM.from_pretrained(result.model_dir, dtype=torch.float32).eval()
    examples = [build_example(record, tokenizer, 128) for record in trained_records]
    batch = PackedCollator(select_logits=False)([e.__dict__ for e in examples])  # one pass
    batch.pop(REAL_TOKENS)
    with torch.no_grad():
        probabilities = model(**batch, use_cache=False).logits[0].softmax(-1)
    ends = torch.tensor([len(e) for e in examples]).cumsum(0) - 1  # each example's EOS
    for example, end in zip(examples, ends, strict=True):
        assert example.input_ids[-1] == tokenizer.eos_token_id
        p_eos = probabilities[end - 1, tokenizer.eos_token_id].item()  # predicts that EOS
        assert p_eos > 0.5, p_eos


def test_the_result_exports_to_the_library_and_the_app_answers_in_alpaca_format(
    full_run, trained_records: list[Record], huacaya_home: Path
) -> None:  # type: ignore[no-untyped-def]
    result = full_run[0]
    exported = export_to_library(result.model_dir, "Alpaca SmolLM2", "q8_0")
    entry = ModelLibrary().get(exported.model_id)
    assert entry.name == "Alpaca SmolLM2" and entry.quantization.upper() == "Q8_0"
    assert entry.has_chat_template
    record = next(r for r in trained_records if not r.input)
    engine = ChatEngine(ModelLibrary().path_of(entry), context_length=512)
    engine.load()
    try:
        messages = [{"role": "user", "content": record.instruction}]
        assert engine.render_prompt(messages).text == alpaca.format_prompt(record.instruction)
        response = engine.stream(messages, greedy(max_tokens=96))
        answer = response.text()
        stats = response.stats
    finally:
        engine.close()
    assert answer.strip() and stats is not None
    assert stats.finish_reason == "stop" and stats.generated_tokens < 96  # it stopped by itself
    # and `huacaya chat --model NAME` uses it, as a user runs it
    command = [sys.executable, "-m", "desktop", "chat", "--model", "Alpaca SmolLM2"]
    chat = subprocess.run(
        [*command, record.instruction, "--temperature", "0", "--max-tokens", "32"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip()


def test_lora_run_saves_a_peft_adapter_that_exports_to_the_library(
    smollm_checkpoint: Path, trained_records: list[Record], tmp_path: Path, huacaya_home: Path
) -> None:
    data = write_records(tmp_path / "seed.jsonl", trained_records)
    config = _quick(
        smollm_checkpoint, data, tmp_path / "lora", lora=True, learning_rate=3e-3, max_steps=4
    )
    assert config.lora_r == 8 and config.lora_alpha == 16 and config.lora_dropout == 0.0
    assert config.lora_targets == ["q_proj", "v_proj"]
    result = train(config)
    losses = [row.loss for row in read_metrics(result.out / "metrics.csv")]
    assert losses[-1] < 0.8 * losses[0], losses
    adapter = json.loads((result.model_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["r"] == 8 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert (result.model_dir / "adapter_model.safetensors").is_file()

    exported = export_to_library(result.model_dir, "Alpaca LoRA", "q4_k_m", base=smollm_checkpoint)
    entry = ModelLibrary().get(exported.model_id)
    assert entry.quantization.upper() == "Q4_K_M" and entry.has_chat_template
    engine = ChatEngine(ModelLibrary().path_of(entry), context_length=512)
    engine.load()
    try:
        response = engine.stream([{"role": "user", "content": "Hi"}], greedy(16))
        answer = response.text()
    finally:
        engine.close()
    assert response.stats is not None and response.stats.generated_tokens > 0
    assert isinstance(answer, str)


def test_cancel_stops_training_with_a_checkpoint_to_resume_from(
    tiny_model: Path, trained_records: list[Record], tmp_path: Path
) -> None:
    data = write_records(tmp_path / "seed.jsonl", trained_records)
    cancel = CancelToken()

    def stop_after_two(status: TrainStatus) -> None:
        if status.step == 2:
            cancel.cancel()

    config = _quick(tiny_model, data, tmp_path / "run", max_steps=20)
    from conversion.errors import Cancelled

    with pytest.raises(Cancelled, match="step 2"):
        train(config, cancel=cancel, on_status=stop_after_two)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (tmp_path / "run" / "model").exists()
    result = train(config)  # the same call goes on from step 2
    assert result.resumed_from == 2 and result.steps == 20
