"""A loopback OpenAI-compatible server playing a judge (or an answering model) with a fixed
policy, for the evaluation tests. It only ever listens on 127.0.0.1.

``POST /v1/chat/completions`` with our judging prompt answers ``A`` or ``B`` as the policy says:
``longer`` prefers the longer answer, ``position_a`` always says A. Any other prompt is answered
with an echo (so the server can also be an answering side). Requests are recorded.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = re.compile(r"\[Answer A\]\n(.*)\n\n\[Answer B\]\n(.*)\n\nWhich answer", re.DOTALL)


class LoopbackJudge:
    def __init__(self, policy: str = "longer") -> None:
        self.policy = policy
        self.requests: list[dict[str, object]] = []
        self.keys: list[str | None] = []  # the Authorization header of each request
        self._lock = threading.Lock()
        judge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                judge._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackJudge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verdict(self, prompt: str) -> str:
        found = ANSWER.search(prompt)
        if found is None:
            return f"Echo: {prompt[:40]}"
        a, b = found.group(1), found.group(2)
        if self.policy == "position_a":
            return "A"
        return "A" if len(a) >= len(b) else "B"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length", 0))))
        with self._lock:
            self.requests.append(body)
            self.keys.append(handler.headers.get("Authorization"))
        text = self.verdict(body["messages"][-1]["content"])
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        data = json.dumps({"id": "chatcmpl-loopback", "choices": [choice]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
