"""What a GGUF file's header says: its metadata and its tensor table.

``conversion.gguf_file`` reads them (bounded) and ``conversion.gguf_validate`` checks them
against what llama.cpp relies on; the plain data lives apart from both, so that neither needs
the other's module to name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf import LlamaFileType

DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dims: tuple[int, ...]
    type_id: int
    offset: int  # from the start of the data section
    nbytes: int


@dataclass
class GGUFInfo:
    path: Path
    version: int
    file_size: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    array_types: dict[str, int] = field(default_factory=dict)  # key -> item value type
    value_types: dict[str, int] = field(default_factory=dict)  # key -> value type
    tensors: list[TensorEntry] = field(default_factory=list)
    alignment: int = DEFAULT_ALIGNMENT
    data_start: int = 0
    parameter_count: int = 0

    @property
    def architecture(self) -> str:
        value = self.metadata.get("general.architecture", "")
        return value if isinstance(value, str) else ""

    @property
    def name(self) -> str:
        value = self.metadata.get("general.name", "")
        return (value if isinstance(value, str) else "") or self.path.stem

    @property
    def context_length(self) -> int:
        value = self.metadata.get(f"{self.architecture}.context_length", 0)
        return value if type(value) is int and value > 0 else 0

    @property
    def chat_template(self) -> str | None:
        template = self.metadata.get("tokenizer.chat_template")
        return template if isinstance(template, str) and template.strip() else None

    @property
    def quantization(self) -> str:
        file_type = self.metadata.get("general.file_type")
        if type(file_type) is not int:
            return ""
        try:
            return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            return f"type {file_type}"
