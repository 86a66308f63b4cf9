"""Fixtures for the training tests: Stanford's seed tasks, and a tiny random model that uses
SmolLM2's real tokenizer (for the machinery: processes, resume, cancel) next to SmolLM2 itself
(for what the recipe does to a real model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from conversion.train.data import Record, load_training_data

ROOT = Path(__file__).resolve().parents[2]
SEED_TASKS = ROOT.parent / "shared" / "alpaca" / "seed_tasks.jsonl"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def seed_tasks() -> Path:
    if not SEED_TASKS.is_file():
        pytest.skip(f"Stanford's seed tasks are not beside this checkout ({SEED_TASKS})")
    return SEED_TASKS


@pytest.fixture(scope="session")
def short_seed_records(seed_tasks: Path) -> list[Record]:
    """The shortest seed tasks (with and without input), so a CPU step stays cheap."""
    records = load_training_data(str(seed_tasks)).records
    return sorted(records, key=lambda r: len(r.instruction) + len(r.input) + len(r.output))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, smollm_checkpoint: Path) -> Path:
    """A random 2-layer LLaMA with SmolLM2's tokenizer: every step takes milliseconds."""
    folder = tmp_path_factory.mktemp("tiny-smollm-tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(smollm_checkpoint)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_records(path: Path, records: list[Record]) -> Path:
    import json

    lines = [json.dumps(r.__dict__) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def huacaya_train(*args: str, launcher: list[str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """The real command in a child process (nice'd: the suite shares the machine)."""
    command = [*(launcher or [sys.executable, "-m", "conversion.train"]), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        ["nice", "-n", "5", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )
