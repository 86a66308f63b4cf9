"""llama.cpp's log routed into Python logging (shared with ``conversion``, which defines it)."""

from conversion.llama_log import install, take_recent_errors

__all__ = ["install", "take_recent_errors"]
