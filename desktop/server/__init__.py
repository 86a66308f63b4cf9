"""The local OpenAI-compatible API: an ASGI app (FastAPI) on top of the core, served by uvicorn.

No Qt here: the window and ``huacaya serve`` both start a ``runner.ApiServer``.
"""
