"""``huacaya serve`` as a user runs it: it prints the address (and, off loopback, the key), serves
until Ctrl+C, and then exits cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import openai


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_on_every_network_prints_and_requires_the_key(huacaya_home: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop", "serve", "--host", "0.0.0.0", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HUACAYA_HOME": str(huacaya_home)},
    )
    try:
        said = []
        assert process.stderr is not None
        for line in process.stderr:
            said.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(said)
        assert f"http://127.0.0.1:{port}/v1" in text, text
        key = re.search(r"API key[^:]*: (\S+)", text)
        assert key, text
        url = f"http://127.0.0.1:{port}/v1"
        assert httpx.get(f"{url}/models").status_code == 401
        with openai.OpenAI(base_url=url, api_key=key.group(1), max_retries=0) as api:
            assert "smollm2-135m-instruct" in [m.id for m in api.models.list().data]
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
