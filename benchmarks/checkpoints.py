"""Build SmolLM2-135M-Instruct as a Hugging Face checkpoint from the starter GGUF.

Used by the benchmarks (convert, train, kill9) and the tests (the session's
``smollm_checkpoint``); needs the ``train`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM


def _gguf_scalar(reader: gguf.GGUFReader, key: str):  # type: ignore[no-untyped-def]
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def build_smollm_checkpoint(starter_path: Path, out: Path) -> Path:
    """The starter's weights in a fresh LlamaForCausalLM, saved in bf16 with its tokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(starter_path.parent, gguf_file=starter_path.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        starter_path.parent, gguf_file=starter_path.name, dtype=torch.float32
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # it describes the GGUF we read, not this checkpoint
    fresh = LlamaForCausalLM(config).to(torch.bfloat16)
    fresh.load_state_dict({k: v.to(torch.bfloat16) for k, v in loaded.state_dict().items()})
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # transformers' GGUF tokenizer import drops two flags the original tokenizer_config.json has.
    reader = gguf.GGUFReader(starter_path)
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer_config["add_bos_token"] = bool(_gguf_scalar(reader, "tokenizer.ggml.add_bos_token"))
    tokenizer_config["add_prefix_space"] = bool(
        _gguf_scalar(reader, "tokenizer.ggml.add_space_prefix")
    )
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    return out
