"""Training on what is installed: the starter GGUF made into a checkpoint, scored against
llama.cpp on the same file; the cache; cancel; names that are nothing at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conversion.errors import Cancelled, ModelNotFoundError, TrainingError
from conversion.progress import CancelToken
from conversion.train.bases import WHAT_TO_GIVE, resolve_base
from conversion.train.gguf_base import SOURCE_RECORD, checkpoint_from_gguf
from tests.conftest import scratch_folder
from tests.scoring import Scorer, agreement, log_softmax

ROOT = Path(__file__).resolve().parents[2]
ALPACA_PROMPT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\nName three primary colours.\n\n### Response:\n"
    "Red, blue and yellow."
)
TEXTS = (
    ALPACA_PROMPT,
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "  Ünïcode: naïve café — 1234567 tokens!\n\tdone",
)
# Measured on the starter (Q4_1; llama.cpp multiplies with 8-bit activations, the checkpoint in
# fp32): top-1 agreement 1.0, mean KL 0.004 nats. A checkpoint with Q/K left permuted, or any
# tensor in the wrong place, has KL of several nats.
MIN_TOP1 = 0.9
MAX_KL = 0.05


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, starter_path: Path):  # type: ignore[no-untyped-def]
    messages: list[str] = []
    with scratch_folder(tmp_path_factory, "base-checkpoints") as cache:
        base = checkpoint_from_gguf(starter_path, cache, lambda f, m="": messages.append(m))
        yield base, messages


def test_the_checkpoint_scores_like_llama_cpp_on_the_same_gguf(made, starter_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _ = made
    assert not base.reused and base.quantization == "Q4_1"
    files = {p.name for p in base.checkpoint.iterdir()}
    assert {"config.json", "tokenizer.json", "model.safetensors"} <= files
    tokenizer = AutoTokenizer.from_pretrained(base.checkpoint)
    with Scorer(starter_path) as scorer:
        for text in TEXTS:  # the vocabulary from the GGUF tokenizes as llama.cpp does
            assert tokenizer(text).input_ids == scorer.tokenize(text, add_bos=False), text
        tokens = scorer.tokenize(ALPACA_PROMPT, add_bos=False)
        reference = scorer.logits(tokens)
    model = AutoModelForCausalLM.from_pretrained(base.checkpoint, dtype=torch.float32)
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].numpy()
    top1, kl = agreement(reference, logits)
    assert top1 >= MIN_TOP1 and kl <= MAX_KL, (top1, kl)
    # the text's own log-probability, token by token
    targets = np.array(tokens[1:])
    rows = np.arange(len(targets))
    ours = log_softmax(logits)[rows, targets]
    theirs = log_softmax(reference)[rows, targets]
    assert abs(ours.sum() - theirs.sum()) / len(targets) < 0.2


def test_the_second_call_reuses_the_checkpoint(made, starter_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, _ = made
    weights = base.checkpoint / "model.safetensors"
    before = weights.stat().st_mtime_ns, weights.stat().st_ino
    messages: list[str] = []
    again = checkpoint_from_gguf(
        starter_path, base.checkpoint.parent, lambda f, m="": messages.append(m)
    )
    assert again.reused and again.checkpoint == base.checkpoint
    assert (weights.stat().st_mtime_ns, weights.stat().st_ino) == before
    assert not any(m.startswith("dequantizing") for m in messages)
    assert [p.name for p in base.checkpoint.parent.iterdir()] == [base.checkpoint.name]


def test_progress_is_reported_per_tensor(made) -> None:  # type: ignore[no-untyped-def]
    _, messages = made
    assert sum(m.startswith("dequantizing") for m in messages) == 272


def test_cancel_leaves_nothing_under_a_real_name(tmp_path: Path, starter_path: Path) -> None:
    cancel = CancelToken()
    seen = []

    def progress(fraction: float, message: str = "") -> None:
        seen.append(message)
        if message.startswith("dequantizing") and len(seen) > 20:
            cancel.cancel()

    with pytest.raises(Cancelled):
        checkpoint_from_gguf(starter_path, tmp_path, progress, cancel)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_record_is_made_again(tmp_path: Path, made, starter_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A cache entry whose record does not match (an older format) is not trusted."""
    base, _ = made
    record = base.checkpoint / SOURCE_RECORD
    saved = record.read_text(encoding="utf-8")
    try:
        record.write_text(json.dumps({**json.loads(saved), "sha256": "0" * 64}), encoding="utf-8")
        cancel = CancelToken()

        def progress(fraction: float, message: str = "") -> None:
            if message.startswith("reading the GGUF"):  # it is making it again: enough seen
                cancel.cancel()

        with pytest.raises(Cancelled):
            checkpoint_from_gguf(starter_path, base.checkpoint.parent, progress, cancel)
    finally:
        record.write_text(saved, encoding="utf-8")


def _unknown(name: str) -> Path:
    raise ModelNotFoundError(f"No model called “{name}” is installed.")


@pytest.mark.parametrize("given", ["no-such-model", "someone/no-such-model"])
def test_a_name_that_is_nothing_fails_at_once_offline(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingError) as caught:
        resolve_base(given, tmp_path, _unknown)
    assert caught.value.message.startswith(f"“{given}” is not a folder, a file or an installed")
    assert caught.value.hint == WHAT_TO_GIVE


def test_paths_that_are_not_models(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    for given, says in (
        (tmp_path / "notes.txt", "neither a GGUF file"),
        (tmp_path / "empty", "no config.json"),
        (tmp_path / "gone.gguf", "does not exist"),
    ):
        with pytest.raises(TrainingError) as caught:
            resolve_base(str(given), tmp_path / "cache", _unknown)
        assert says in caught.value.message and caught.value.hint == WHAT_TO_GIVE


def test_the_command_names_what_to_give(tmp_path: Path) -> None:
    """The installed command, offline, on a fresh data folder: one clear line, no Hub retries."""
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"instruction": "Say hi.", "input": "", "output": "Hi."}]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HUACAYA_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "desktop.cli.train", "--base", "no-such-model"]
    command += ["--data", str(data), "--out", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("huacaya-train: error: “no-such-model” is not"), lines
    assert "installed model" in lines[-1] and "Traceback" not in done.stderr
