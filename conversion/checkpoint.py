"""A Hugging Face checkpoint folder, read once.

``Checkpoint`` is the one reader of a checkpoint's JSON files for the converter: config.json
when it is opened, ``tokenizer.json``, ``tokenizer_config.json`` and the others at their first
use, each through :func:`read_json` (regular files only, bounded) and kept parsed, so the
vocabulary, the architectures and the converter ask the checkpoint instead of reading files.
(``gguf.SpecialVocab``, llama.cpp's own reading of special tokens, merges and chat templates,
reads the tokenizer files itself after the checkpoint has read them.) Whether Huacaya can
convert the folder is :func:`conversion.archs.inspect_checkpoint`. Every problem is a clear
error naming the file and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from conversion.errors import CheckpointError
from conversion.input_files import MAX_CONFIG_BYTES, MAX_JSON_BYTES, read_bounded


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]
    _files: dict[str, dict[str, Any] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        """The checkpoint in the folder ``path``, with its config.json read (not yet checked:
        ``inspect_checkpoint`` does that once it knows the architecture is one it converts)."""
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"“{path.name}” has no config.json, so it is not a Hugging Face checkpoint.",
                "Point at the folder that holds config.json, the weights and the tokenizer files.",
            )
        return cls(path, read_json(path / "config.json", MAX_CONFIG_BYTES))

    def json_file(self, name: str) -> dict[str, Any] | None:
        """The folder's JSON object ``name`` (a path inside it, such as ``tokenizer.json``),
        read at its first use and kept; None when the folder has no such file."""
        if name not in self._files:
            path = self.path / name
            self._files[name] = read_json(path) if path.is_file() else None
        return self._files[name]

    @property
    def tokenizer_json(self) -> dict[str, Any]:
        data = self.json_file("tokenizer.json")
        if data is None:
            raise CheckpointError(f"“{self.path.name}” has no tokenizer.json.")
        return data

    @property
    def tokenizer_config(self) -> dict[str, Any]:
        """``tokenizer_config.json`` ({} when there is none)."""
        return self.json_file("tokenizer_config.json") or {}

    @property
    def architecture(self) -> str:
        """The model class config.json names (its ``model_type`` when it names none)."""
        architectures = self.config.get("architectures") or []
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
            return architectures[0]
        return str(self.config.get("model_type", "?"))

    @cached_property
    def tokenizer(self) -> str:
        """ "sentencepiece" (tokenizer.model, or its vocabulary in tokenizer.json, as
        transformers 5 saves it), or the model type of tokenizer.json ("bpe", "wordpiece")."""
        if (self.path / "tokenizer.model").is_file():
            return "sentencepiece"
        if (self.path / "tokenizer.json").is_file():
            if is_sentencepiece_json(self.tokenizer_json):
                return "sentencepiece"
            model = self.tokenizer_json.get("model") or {}
            return str(model.get("type") or "bpe").lower()
        raise CheckpointError(
            f"“{self.path.name}” has no tokenizer (tokenizer.model or tokenizer.json).",
            "Copy the tokenizer files of the model into the folder.",
        )

    def hparam(self, *names: str, default: Any = None) -> Any:
        for name in names:
            if self.config.get(name) is not None:
                return self.config[name]
        return default

    @property
    def n_head(self) -> int:
        return int(self.config["num_attention_heads"])

    @property
    def n_head_kv(self) -> int:
        return int(self.hparam("num_key_value_heads", default=self.n_head))

    @property
    def n_layers(self) -> int:
        return int(self.config["num_hidden_layers"])

    @property
    def head_dim(self) -> int:
        return int(self.hparam("head_dim", default=self.config["hidden_size"] // self.n_head))

    @property
    def rope_theta(self) -> float:
        params = self.config.get("rope_parameters") or {}
        return float(self.hparam("rope_theta", default=params.get("rope_theta", 10000.0)))

    @property
    def rope_scaling(self) -> dict[str, Any] | None:
        scaling = self.config.get("rope_scaling") or self.config.get("rope_parameters")
        if not isinstance(scaling, dict):
            return None
        kind = scaling.get("rope_type") or scaling.get("type")
        return None if kind in (None, "default") else {**scaling, "rope_type": kind}

    @property
    def name(self) -> str:
        return str(self.config.get("_name_or_path") or self.path.name).rstrip("/").split("/")[-1]


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object from a regular file of at most ``limit`` bytes."""
    try:
        data = json.loads(read_bounded(path, limit).decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"“{path.parent.name}” has no {path.name}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"“{path}” is damaged or not JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"“{path}” should hold a JSON object.")
    return data


def is_lora_adapter(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


def is_sentencepiece_json(data: dict[str, Any]) -> bool:
    """A tokenizer.json holding a SentencePiece BPE vocabulary (what transformers makes of a
    ``tokenizer.model``): BPE with byte fallback over "▁"-spelled pieces."""
    model = data.get("model") or {}
    if not isinstance(model, dict) or model.get("type") != "BPE" or not model.get("byte_fallback"):
        return False
    steps = [data.get("normalizer"), data.get("pre_tokenizer"), data.get("decoder")]
    return "\u2581" in json.dumps(steps, ensure_ascii=False)
