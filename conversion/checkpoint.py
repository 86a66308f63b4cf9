"""Inspect a Hugging Face checkpoint folder before converting it.

Answers: which architecture (and is it supported), which tokenizer, where the weights are, and
whether the folder is a LoRA adapter instead of a model. Every problem is a clear error naming
the file and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.config_checks import check_config
from conversion.errors import CheckpointError
from conversion.input_files import (
    MAX_CONFIG_BYTES,
    MAX_JSON_BYTES,
    check_folder,
    parse_json,
    read_bounded,
)


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]
    architecture: str
    tokenizer: str  # "sentencepiece", "bpe" or "wordpiece"

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
        data = parse_json(read_bounded(path, limit).decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"“{path.parent.name}” has no {path.name}.") from None
    except OSError as exc:
        raise CheckpointError(f"“{path}” cannot be read: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError:
        raise CheckpointError(f"“{path}” is damaged: it is not UTF-8 text.") from None
    except ValueError as exc:
        raise CheckpointError(f"“{path}” is damaged or not JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"“{path}” should hold a JSON object.")
    return data


def is_lora_adapter(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


def tokenizer_kind(path: Path) -> str:
    """ "sentencepiece" (tokenizer.model), or the model type of tokenizer.json ("bpe",
    "wordpiece")."""
    if (path / "tokenizer.model").is_file():
        return "sentencepiece"
    if (path / "tokenizer.json").is_file():
        model = read_json(path / "tokenizer.json").get("model") or {}
        return str(model.get("type") or "bpe").lower()
    raise CheckpointError(
        f"“{path.name}” has no tokenizer (tokenizer.model or tokenizer.json).",
        "Copy the tokenizer files of the model into the folder.",
    )


def inspect_checkpoint(path: str | Path) -> Checkpoint:
    """Check that ``path`` is a convertible checkpoint and describe it."""
    from conversion.archs import architecture_class, for_checkpoint
    from conversion.tokenizer_checks import check_tokenizer_files
    from conversion.weight_files import weight_paths

    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"“{path}” does not exist.", "Check the folder name.")
    if not path.is_dir():
        raise CheckpointError(
            f"“{path}” is a file; a Hugging Face checkpoint is a folder with config.json.",
            "A .gguf file needs no conversion: open it directly.",
        )
    check_folder(path)  # a pipe or device named like a checkpoint file is refused at once
    if is_lora_adapter(path) and not (path / "config.json").is_file():
        raise CheckpointError(
            f"“{path.name}” is a LoRA adapter, not a full model.",
            "Convert its base model and pass the adapter with --lora.",
        )
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"“{path.name}” has no config.json, so it is not a Hugging Face checkpoint.",
            "Point at the folder that holds config.json, the weights and the tokenizer files.",
        )
    config = read_json(path / "config.json", MAX_CONFIG_BYTES)
    architectures = config.get("architectures") or []
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        architecture = architectures[0]
    else:
        architecture = str(config.get("model_type", "?"))
    architecture_class(architecture, path.name)  # an unsupported one is refused first
    check_config(config, path.name)  # types and ranges, before anything is sized from them
    check_tokenizer_files(path)  # the shape of every field the converter reads, likewise
    ckpt = Checkpoint(path, config, architecture, tokenizer_kind(path))
    for_checkpoint(ckpt)  # a tokenizer this architecture does not use is refused
    weight_paths(path)  # raises when there are no weights
    return ckpt
