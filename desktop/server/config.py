"""How the local API server is set up, and what "loopback" means for its safety rules."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
NETWORK_HOST = "0.0.0.0"  # every interface: what "let other computers use it" binds to
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name to bind to, or a Host header's host) is this
    computer only."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    """The address a client on this computer uses (``0.0.0.0`` is reached as 127.0.0.1)."""
    shown = DEFAULT_HOST if host in ("", NETWORK_HOST, "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/v1"


@dataclass
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port (see ApiServer.port once started)
    model: str = ""  # the model answering requests that name none; "": the default model
    api_key: str | None = None  # required as a bearer key when set
    cors_origins: list[str] = field(default_factory=list)  # none: no CORS headers at all
    max_body_bytes: int = 4 * 1024 * 1024
    max_tokens_limit: int = 4096  # the most tokens one answer may ask for
    parallel: int = 4  # requests answered at once (decoded together); the others wait
    background: bool = False  # inside the window: decode at a lower priority than its answers
    queue_size: int = 16  # requests waiting for a free slot; more get 429
    # The model is loaded like the window loads it.
    context_length: int = 4096
    threads: int = 0
    gpu_layers: int = -1

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)
