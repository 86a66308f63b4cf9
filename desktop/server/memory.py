"""Will a model fit? Checked before the server loads one, so a request naming a model too big
for this computer gets a clear answer instead of pushing the machine into swap."""

from __future__ import annotations

import psutil

from conversion.errors import NotEnoughMemoryError
from conversion.gguf_info import GGUFInfo

OVERHEAD_BYTES = 256 * 1024 * 1024  # llama.cpp's compute buffers and the process around it


def kv_cache_bytes(info: GGUFInfo, context: int) -> int:
    """The f16 key/value cache for ``context`` tokens (0 when the header does not say)."""
    meta, arch = info.metadata, info.architecture

    def number(key: str) -> int:
        value = meta.get(f"{arch}.{key}", 0)
        return int(value) if isinstance(value, (int, float)) else 0

    layers, width = number("block_count"), number("embedding_length")
    heads = number("attention.head_count") or 1
    kv_heads = number("attention.head_count_kv") or heads
    return 2 * layers * context * (width * kv_heads // heads) * 2


def check_fits(info: GGUFInfo, context: int, freed_bytes: int = 0) -> None:
    """Raise NotEnoughMemoryError unless the weights, the cache for ``context`` tokens and some
    headroom fit into the memory available now plus ``freed_bytes`` (a model unloaded first)."""
    needed = info.file_size + kv_cache_bytes(info, context) + OVERHEAD_BYTES
    available = psutil.virtual_memory().available + freed_bytes
    if needed > available:
        raise NotEnoughMemoryError(
            f"“{info.name}” needs about {needed / 2**30:.1f} GB of memory with a "
            f"{context:,}-token context; {available / 2**30:.1f} GB is free."
        )
