"""Any OpenAI-compatible server as the teacher (OpenAI, vLLM, llama.cpp's server, Ollama, …).

``--api completions`` (the default, as Stanford used) posts to ``/completions`` and the reply
continues the prompt; ``--api chat`` posts the prompt as one user message to
``/chat/completions``. A batch's requests run at the same time, one thread each. Each request is
retried with exponential backoff (honouring ``Retry-After``) on 408/409/429/5xx answers and on
dropped connections or timeouts. A server that cannot be reached at all on the first request
fails at once: that is a wrong address, not a passing fault.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence

import httpx

from conversion.errors import (
    DataGenerationError,
    HuacayaError,
    TeacherError,
    TeacherReplyError,
    TeacherUnreachableError,
)
from conversion.progress import CancelToken
from conversion.selfinstruct.teachers import Activity, Reply, Sampling

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_POLL = 0.1  # seconds between looks at the cancel token while waiting


def check_base_url(url: str) -> str:
    """``url`` as a server's base URL (no trailing slash), or DataGenerationError saying what is
    wrong with it: a port that is not a number, a bracket left open, a character no URL has."""
    url = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
        problem = "" if parsed.scheme in ("http", "https") and parsed.host else "no server in it"
    except httpx.InvalidURL as exc:
        problem = str(exc)
    if problem:
        raise DataGenerationError(
            f"“{url}” is not a server's URL ({problem}).",
            "Give the OpenAI-compatible server's base URL, such as http://localhost:8080/v1.",
        )
    return url


class OpenAITeacher:
    def __init__(
        self,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        api: str = "completions",
        retries: int = 6,
        backoff: float = 1.0,
        timeout: float = 600.0,
    ) -> None:
        self.model = model
        self.base_url = check_base_url(base_url)
        self.identity = f"openai:{model}"
        self.api = api
        self.continuation = api == "completions"
        self.retries = retries
        self.backoff = backoff
        self._answered = False  # has the server answered once in this run?
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=15.0),
        )

    # -- one batch -------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        sampling: Sampling,
        cancel: CancelToken,
        activity: Activity,
    ) -> list[Reply]:
        """Every prompt's reply, in order; the requests run concurrently."""
        results: list[Reply | BaseException | None] = [None] * len(prompts)

        def work(i: int) -> None:
            try:
                results[i] = self._request(prompts[i], seeds[i], sampling, cancel)
            except BaseException as exc:  # handed to the caller's thread below
                results[i] = exc

        threads = [
            threading.Thread(target=work, args=(i,), daemon=True, name=f"teacher-request-{i}")
            for i in range(len(prompts))
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        # Daemon threads: on cancel they are left to finish (or not) on their own, and an
        # interrupted command exits without waiting for a slow server.
        for thread in threads:
            while thread.is_alive():
                thread.join(_POLL)
                cancel.check()
                done = sum(r is not None for r in results)
                activity(
                    f"{done}/{len(prompts)} replies from {self.model} "
                    f"({time.monotonic() - started:.0f} s)"
                )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, Reply)]

    # -- one request, with retries ---------------------------------------------------------

    def _payload(self, prompt: str, seed: int, sampling: Sampling) -> tuple[str, dict]:
        payload: dict[str, object] = {
            "model": self.model,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": seed,
            "n": 1,
        }
        if sampling.stop:
            payload["stop"] = list(sampling.stop)
        if self.continuation:
            payload["prompt"] = prompt
            return "/completions", payload
        payload["messages"] = [{"role": "user", "content": prompt}]
        return "/chat/completions", payload

    def _request(self, prompt: str, seed: int, sampling: Sampling, cancel: CancelToken) -> Reply:
        path, payload = self._payload(prompt, seed, sampling)
        url = self.base_url + path
        problem = ""
        for attempt in range(self.retries + 1):
            cancel.check()
            delay = self.backoff * 2**attempt * random.uniform(0.75, 1.25)
            try:
                response = self._client.post(path, json=payload)
            except httpx.ConnectError as exc:
                if not self._answered:
                    raise TeacherUnreachableError(
                        f"Cannot reach the teacher at {self.base_url}: {_reason(exc)}."
                    ) from None
                problem = f"could not connect ({_reason(exc)})"
            except httpx.TransportError as exc:  # dropped connections, timeouts, bad framing
                problem = f"the connection failed ({_reason(exc)})"
            else:
                self._answered = True
                if response.status_code < 400:
                    return self._reply(response, url)
                if response.status_code not in RETRY_STATUSES:
                    raise _refusal(response, url, self.model)
                problem = f"it answered HTTP {response.status_code}"
                delay = _retry_after(response, delay)
            if attempt < self.retries:
                _sleep(delay, cancel)
        raise TeacherUnreachableError(
            f"The teacher at {self.base_url} failed {self.retries + 1} times in a row: {problem}.",
            "Try again later, or lower --batch-size if the server is overloaded. Everything "
            "generated so far is kept: run the same command again to continue.",
        )

    def _reply(self, response: httpx.Response, url: str) -> Reply:
        try:
            body = response.json()
            choice = body["choices"][0]
            text = choice["text"] if self.continuation else choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("the text is not a string")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TeacherReplyError(
                f"The teacher at {url} answered with something that is not JSON: "
                f"{_excerpt(response.text)}"
            ) from None
        except (KeyError, IndexError, TypeError):
            raise TeacherReplyError(
                f"The teacher at {url} answered JSON that is not an OpenAI-compatible "
                f"{'completion' if self.continuation else 'chat completion'}: "
                f"{_excerpt(response.text)}"
            ) from None
        return Reply(text, str(choice.get("finish_reason") or "stop"))

    def close(self) -> None:
        self._client.close()


def _refusal(response: httpx.Response, url: str, model: str) -> HuacayaError:
    error = _refusal_error(response, url, model)
    error.status = response.status_code  # the window words its own hint by it
    return error


def _refusal_error(response: httpx.Response, url: str, model: str) -> TeacherError:
    status = response.status_code
    said = _server_message(response)
    if status in (401, 403):
        return TeacherError(
            f"The teacher at {url} refused the request (HTTP {status}): {said}",
            "Set the API key in the environment (OPENAI_API_KEY, or the variable named by "
            "--api-key-env), or store it in the keychain with --store-key.",
        )
    if status == 404:
        return TeacherError(
            f"The teacher at {url} answered 404 (not found): {said}",
            f"Check the model name (“{model}”) and --base-url (it usually ends in /v1); a "
            "server that only has chat models needs --api chat.",
        )
    return TeacherError(f"The teacher at {url} refused the request (HTTP {status}): {said}")


def _server_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return message
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        pass
    return _excerpt(response.text) or response.reason_phrase


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return default


def _reason(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _sleep(seconds: float, cancel: CancelToken) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        cancel.check()
        time.sleep(min(_POLL, left))
    cancel.check()
