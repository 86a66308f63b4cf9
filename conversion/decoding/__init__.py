"""Decoding: many sequences answered together in one llama.cpp context (continuous batching).

Part of the base library so that the chat engine (``desktop/core/chat``) and data generation's
local teacher (``conversion/selfinstruct``) decode the same way; see ``decoder.py``.
"""
