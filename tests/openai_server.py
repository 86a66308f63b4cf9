"""A loopback server that speaks OpenAI's completions API and plays a self-instruct teacher.

``POST /v1/completions`` and ``/v1/chat/completions`` answer a self-instruct prompt with
numbered tasks that continue its examples, up to the number its stop sequence names. The reply
is a pure function of the prompt and the request's ``seed``, so a request that is retried, or
asked again after an interruption, gets the same answer. Among ordinary new tasks it writes the
kinds the pipeline must drop: a near-copy of an example, blacklisted words, too few words,
"Write a program", a leading quote, a non-ASCII start, a block without its Output; about one
reply in four stops on its length limit in the middle of a block.

Knobs make it misbehave: answer the next requests with given HTTP statuses (429 with
``Retry-After``, 503, …), drop the connection without an answer, answer garbage, want a key,
or take a while per request. It only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERBS = (
    "Explain", "Describe", "Summarize", "Compare", "List", "Suggest", "Classify", "Rewrite",
    "Translate", "Estimate", "Outline", "Recommend", "Evaluate", "Name", "Identify", "Compose",
)  # fmt: skip
NOUNS = (
    "river", "budget", "poem", "volcano", "recipe", "contract", "planet", "habit", "museum",
    "election", "bicycle", "garden", "vaccine", "algorithm", "festival", "glacier", "novel",
    "startup", "harbor", "orchestra", "desert", "library", "protein", "satellite", "cathedral",
    "tariff", "marathon", "telescope", "bakery", "wetland", "treaty", "sonnet", "compiler",
)  # fmt: skip
ADJECTIVES = (
    "ancient", "modern", "tiny", "remote", "urban", "seasonal", "honest", "curious", "formal",
    "rural", "digital", "fragile", "vivid", "quiet", "bold", "humble", "global", "local",
)  # fmt: skip
ASPECTS = (
    "history", "benefits", "risks", "costs", "origins", "future", "rules", "structure",
    "impact", "purpose", "weaknesses", "strengths", "audience", "design", "language",
)  # fmt: skip
ODD_ONES = (
    "Draw a picture of a {adj} {noun}.",  # blacklisted
    "Describe the {adj} image of a {noun} in detail.",  # blacklisted
    "Name a {noun}.",  # too short
    "Write a program that sorts the {noun} list.",  # banned start
    '"Explain the {aspect} of a {adj} {noun}."',  # punctuation
    "Élaborez the {aspect} of the {adj} {noun} please.",  # non-ASCII
)


@dataclass
class Knobs:
    statuses: deque[int] = field(default_factory=deque)  # the next answers' HTTP statuses
    retry_after: str | None = "0"  # sent with 429/503
    drop: deque[bool] = field(default_factory=deque)  # True: close without answering
    garbage: str | None = None  # "html": not JSON; "json": JSON without choices; "prose"
    api_key: str | None = None  # required as a Bearer token when set
    delay: float = 0.0  # seconds before each answer
    logprobs: bool = True  # False: `echo` prompt log-probabilities are refused (HTTP 400)
    echo_min_tokens: int = 0  # `echo` refused (HTTP 400) with a smaller max_tokens
    grounded_kinds: tuple[str, ...] = ()  # the grounded replies' cycle (GROUNDED_KINDS)


def teacher_reply(prompt: str, seed: int, max_tokens: int) -> tuple[str, str]:
    """(text, finish_reason) for a self-instruct prompt: deterministic in prompt and seed."""
    examples = re.findall(r"^(\d+)\. Instruction: (.*)$", prompt, flags=re.MULTILINE)
    first = len(examples) + 1
    digest = hashlib.sha256(f"{seed}\n{prompt}".encode()).digest()
    rng = random.Random(digest)
    blocks = []
    for number in range(first, rng.randint(first + 4, first + 8)):
        roll = rng.random()
        inputs = "<noinput>"
        if roll < 0.12 and examples:
            # A near-copy of an example: one word changed → far above ROUGE-L 0.7.
            words = rng.choice(examples)[1].split()
            words[rng.randrange(len(words))] = rng.choice(NOUNS)
            instruction = " ".join(words)
        elif roll < 0.30:
            instruction = rng.choice(ODD_ONES).format(
                adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS), aspect=rng.choice(ASPECTS)
            )
        else:
            instruction = (
                f"{rng.choice(VERBS)} the {rng.choice(ASPECTS)} of a {rng.choice(ADJECTIVES)} "
                f"{rng.choice(NOUNS)} for a {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} "
                f"{rng.choice(['lover', 'student', 'visitor', 'owner', 'critic'])}."
            )
            if rng.random() < 0.4:
                inputs = (
                    f"A {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} near the {rng.choice(NOUNS)}."
                )
        output = f"Here is an answer about the {rng.choice(NOUNS)}: it is {rng.choice(ADJECTIVES)}."
        if roll > 0.96:
            blocks.append(f"{number}. Instruction: {instruction}\n{number}. Input:\n{inputs}\n")
            continue  # no Output: malformed
        blocks.append(
            f"{number}. Instruction: {instruction}\n{number}. Input:\n{inputs}\n"
            f"{number}. Output:\n{output}\n"
        )
    text = "###\n".join(blocks) + "###\n"
    finish = "stop"
    if rng.random() < 0.25 or len(text) // 4 > max_tokens:
        text = text[: max(10, min(len(text) - 30, 4 * max_tokens))]  # cut in a block
        finish = "length"
    return text.removeprefix(f"{first}. Instruction:"), finish


class LoopbackTeacher:
    def __init__(self) -> None:
        self.knobs = Knobs()
        self.requests: list[dict[str, object]] = []  # every request body received
        self.answered = 0
        self.grounded = 0  # grounded requests answered: the next reply's kind
        self._lock = threading.Lock()
        teacher = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                teacher._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LoopbackTeacher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.knobs = Knobs()
        with self._lock:
            self.requests.clear()
            self.answered = self.grounded = 0

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict) -> None:  # type: ignore[type-arg]
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = json.loads(handler.rfile.read(length))
        knobs = self.knobs
        with self._lock:
            self.requests.append(body)
            status = knobs.statuses.popleft() if knobs.statuses else 200
            drop = knobs.drop.popleft() if knobs.drop else False
        if knobs.delay:
            time.sleep(knobs.delay)
        if drop:
            handler.close_connection = True
            return  # the client sees the connection close without an answer
        json_type = {"Content-Type": "application/json"}
        if knobs.api_key and handler.headers.get("Authorization") != f"Bearer {knobs.api_key}":
            error = {"error": {"message": "Incorrect API key provided.", "type": "auth"}}
            self._send(handler, 401, json.dumps(error).encode(), json_type)
            return
        if status != 200:
            headers = dict(json_type)
            if knobs.retry_after is not None:
                headers["Retry-After"] = knobs.retry_after
            error = {"error": {"message": f"loopback status {status}"}}
            self._send(handler, status, json.dumps(error).encode(), headers)
            return
        if knobs.garbage == "html":
            self._send(handler, 200, b"<html><body>Gateway portal</body></html>", {})
            return
        if knobs.garbage == "json":
            self._send(handler, 200, b'{"result": "ok"}', json_type)
            return
        chat = handler.path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body["prompt"]
        if body.get("echo"):
            self._echo(handler, body, knobs.logprobs)
            return
        if GROUNDED_MARK in prompt:
            with self._lock:
                kinds = knobs.grounded_kinds or GROUNDED_KINDS
                kind = kinds[self.grounded % len(kinds)]
                self.grounded += 1
            text, finish = grounded_reply(prompt, kind)
        elif JUDGE_MARK in prompt:
            text, finish = judge_reply(prompt), "stop"
        else:
            text, finish = teacher_reply(prompt, int(body.get("seed", 0)), int(body["max_tokens"]))
        if knobs.garbage == "prose":
            text, finish = "I would rather talk about the weather today.", "stop"
        if chat and (GROUNDED_MARK in prompt or JUDGE_MARK in prompt):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
        elif chat:  # a chat model answers: a sentence first, then the tasks from the first number
            first = len(re.findall(r"^\d+\. Instruction:", prompt, flags=re.MULTILINE))
            text = f"Sure! Here are more tasks.\n\n{first}. Instruction:{text}"
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
        else:
            choice = {"index": 0, "text": text}
        choice["finish_reason"] = finish
        answer = {"id": "cmpl-loopback", "object": "text_completion", "choices": [choice]}
        with self._lock:
            self.answered += 1
        self._send(handler, 200, json.dumps(answer).encode(), json_type)

    def _echo(self, handler: BaseHTTPRequestHandler, body: dict, supported: bool) -> None:  # type: ignore[type-arg]
        json_type = {"Content-Type": "application/json"}
        if not supported or int(body["max_tokens"]) < self.knobs.echo_min_tokens:
            error = {"error": {"message": "echo is not supported"}}
            self._send(handler, 400, json.dumps(error).encode(), json_type)
            return
        tokens = echo_tokens(body["prompt"])
        values: list[float | None] = [token_logprob(t) for t in tokens]
        values[0] = None  # nothing comes before the first token
        offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
        choice = {
            "index": 0,
            "text": body["prompt"],
            "finish_reason": "length",
            "logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets},
        }
        with self._lock:
            self.answered += 1
        answer = {"id": "cmpl-echo", "object": "text_completion", "choices": [choice]}
        self._send(handler, 200, json.dumps(answer).encode(), json_type)


# -- the Data step's grounded records and scores --------------------------------------------

GROUNDED_MARK = "passage from a user's documents"
JUDGE_MARK = "Rating (1-10):"


GROUNDED_KINDS = ("good", "prose", "good", "empty", "good", "copy", "needs", "same", "good", "same")


def grounded_reply(prompt: str, kind: str) -> tuple[str, str]:
    """An instruction and answer made of the prompt's passage's words, or (by ``kind``) one
    the pipeline must drop: no form ("prose"), an empty answer, the passage copied whole, an
    instruction that needs the passage, the same instruction as another "same" reply."""
    passage = prompt.split('"""')[1].strip()
    words = re.findall(r"[A-Za-z]{4,}", passage)
    rng = random.Random(hashlib.sha256(prompt.encode()).digest())
    instruction = f"Explain {' '.join(rng.sample(words, min(8, len(words))))} to me?"
    answer = f"They say that {' '.join(words[:6])}."
    reply = {
        "good": f"Sure.\nInstruction: {instruction}\nAnswer: {answer}",
        "prose": "I cannot help with that.",
        "empty": f"Instruction: {instruction}\nAnswer:",
        "copy": f"Instruction: {instruction}\nAnswer: {passage}",
        "needs": f"Instruction: Summarize the passage above in a few words.\nAnswer: {answer}",
        "same": f"Instruction: What does the handbook say about the shearing season?\n"
        f"Answer: {answer}",
    }[kind]
    return reply, "stop"


def judge_reply(prompt: str) -> str:
    """A rating from the answer's length (1–10), or, for an answer holding "ramble", prose."""
    answer = prompt.split("Answer: ", 1)[1].split("\n\nRating", 1)[0]
    if "ramble" in answer:
        return "Well, it depends on what you mean."
    return f"{min(10, 1 + len(answer.split()))}"


def echo_tokens(text: str) -> list[str]:
    """``text`` cut into pieces that join back to it: each word with the space before it."""
    return re.findall(r"\s*\S+|\s+", text)


def token_logprob(token: str) -> float:
    """A made-up log-probability per piece: lower for longer and for upper-case pieces."""
    return -0.1 * len(token.strip()) - (1.0 if token.strip()[:1].isupper() else 0.0)
