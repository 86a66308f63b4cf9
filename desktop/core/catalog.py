"""The curated catalogue (resources/catalog.json): models worth running on a laptop."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass

from desktop.core import hardware

CATALOG_FILE = "catalog.json"
RAM_SHARE = 0.75  # a model should leave a quarter of the memory to everything else


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    family: str
    repo: str
    format: str  # "safetensors", "gguf", "lora" or "weight-diff"
    quant: str
    download_gb: float
    ram_gb: float
    licence: str
    token: bool
    notes: str = ""
    file: str = ""  # the GGUF file, for "gguf"
    base: str = ""  # what a LoRA adapter or weight diff needs

    def fits(self, total_ram_bytes: int | None = None) -> bool:
        total = total_ram_bytes if total_ram_bytes is not None else hardware.total_memory_bytes()
        return self.ram_gb * 1e9 <= total * RAM_SHARE


def load_catalog() -> list[CatalogEntry]:
    text = (importlib.resources.files("desktop.resources") / CATALOG_FILE).read_text("utf-8")
    return [CatalogEntry(**entry) for entry in json.loads(text)["models"]]
