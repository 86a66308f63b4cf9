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


def slots_that_fit(info: GGUFInfo, context: int, wanted: int, freed_bytes: int = 0) -> int:
    """How many answers of ``context`` tokens each (up to ``wanted``) the model can decode at
    once in the memory available now plus ``freed_bytes``: each needs its own cache. Raises
    NotEnoughMemoryError when not even one fits."""
    available = psutil.virtual_memory().available + freed_bytes
    fixed = info.file_size + OVERHEAD_BYTES
    per_slot = max(1, kv_cache_bytes(info, context))
    fits = min(wanted, (available - fixed) // per_slot) if available > fixed else 0
    if fits < 1:
        needed = fixed + per_slot
        raise NotEnoughMemoryError(
            f"“{info.name}” needs about {needed / 2**30:.1f} GB of memory with a "
            f"{context:,}-token context; {available / 2**30:.1f} GB is free."
        )
    return int(fits)
