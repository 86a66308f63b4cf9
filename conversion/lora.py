"""Merge a PEFT LoRA adapter (``adapter_config.json`` + ``adapter_model.safetensors``, or
``adapter_model.bin`` as alpaca-lora publishes it) into its base weights during conversion,
without PyTorch.

For each adapted linear layer ``W' = W + scale · B @ A`` with ``scale = alpha / r``
(``alpha / sqrt(r)`` for rsLoRA), exactly what ``peft``'s ``merge_and_unload`` computes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from conversion.checkpoint import read_json
from conversion.errors import CheckpointError, UnsupportedModelError
from conversion.weight_files import WeightFiles

PREFIX = "base_model.model."
_LORA = re.compile(r"^(?P<module>.+)\.lora_(?P<part>[AB])(?:\.[^.]+)?\.weight$")


class LoraMerged:
    def __init__(self, base, adapter: WeightFiles, config: dict, folder: Path) -> None:
        self.base = base
        self.adapter = adapter
        self.pairs: dict[str, dict[str, str]] = {}  # base weight name → {"A": name, "B": name}
        self.replaced: dict[str, str] = {}  # base weight name → full tensor in the adapter
        if config.get("use_dora"):
            raise UnsupportedModelError("DoRA adapters cannot be merged yet.")
        self.alpha = float(config.get("lora_alpha", 8))
        self.rslora = bool(config.get("use_rslora"))
        self.fan_in_fan_out = bool(config.get("fan_in_fan_out"))
        self.alpha_pattern: dict[str, float] = config.get("alpha_pattern") or {}
        base_names = set(base.names())
        for name in adapter.names():
            stripped = name[len(PREFIX) :] if name.startswith(PREFIX) else name
            match = _LORA.match(stripped)
            if match:
                target = match["module"] + ".weight"
                self.pairs.setdefault(target, {})[match["part"]] = name
            else:
                target = stripped.replace(".modules_to_save", "").replace(".default", "")
                self.replaced[target] = name
        for target, parts in self.pairs.items():
            if target not in base_names:
                raise CheckpointError(
                    f"The adapter in “{folder.name}” changes {target}, which the base model "
                    "does not have.",
                    "Check that the adapter was trained on this base model.",
                )
            if set(parts) != {"A", "B"}:
                raise CheckpointError(f"The adapter lacks lora_A or lora_B for {target}.")
        if not self.pairs:
            raise CheckpointError(f"“{folder.name}” holds no LoRA weights.")

    @classmethod
    def open(cls, base, folder: Path, opened: list) -> LoraMerged:
        folder = Path(folder).expanduser()
        config = read_json(folder / "adapter_config.json")
        if str(config.get("peft_type", "LORA")).upper() != "LORA":
            raise UnsupportedModelError(f"“{folder.name}” is a {config['peft_type']} adapter.")
        for file_name in ("adapter_model.safetensors", "adapter_model.bin"):
            if (folder / file_name).is_file():
                break
        else:
            raise CheckpointError(
                f"“{folder.name}” has no adapter_model.safetensors or adapter_model.bin."
            )
        adapter = WeightFiles.open(folder / file_name)
        opened.append(adapter)
        return cls(base, adapter, config, folder)

    def _scale(self, target: str, rank: int) -> float:
        alpha = self.alpha
        module = target.removesuffix(".weight")
        for pattern, value in self.alpha_pattern.items():
            if re.search(rf"(^|\.){pattern}$", module):
                alpha = float(value)
        return alpha / math.sqrt(rank) if self.rslora else alpha / rank

    def names(self) -> list[str]:
        return self.base.names()

    def shape(self, name: str) -> tuple[int, ...]:
        return self.base.shape(name)

    def dtype(self, name: str) -> str:
        return self.base.dtype(name)

    def float32(self, name: str) -> np.ndarray:
        if name in self.replaced:
            return self.adapter.float32(self.replaced[name])
        weights = self.base.float32(name)
        parts = self.pairs.get(name)
        if parts is None:
            return weights
        lora_a = self.adapter.float32(parts["A"])
        lora_b = self.adapter.float32(parts["B"])
        delta = (lora_b @ lora_a) * np.float32(self._scale(name, lora_a.shape[0]))
        if self.fan_in_fan_out:
            delta = delta.T
        if delta.shape != weights.shape:
            raise CheckpointError(
                f"The adapter's update for {name} has shape {list(delta.shape)}, the base "
                f"weight {list(weights.shape)}.",
                "The adapter was trained on a different base model.",
            )
        return weights + delta

    def integrity(self) -> dict[str, float | bool]:
        return self.base.integrity()
