"""Network calls to the Hub that a person can always stop: timeouts, stall detection, cancel.

A blocking socket read cannot be interrupted by a cancel token (nor, in practice, by Ctrl+C:
Python retries the read after the signal handler ran). So every request runs on a daemon
thread and the caller waits for it in short steps, checking its cancel token and the clock:
Cancel or Ctrl+C is honoured within ``DownloadPolicy.poll`` seconds at every stage — connecting,
waiting for headers, and each read of the body. An abandoned thread ends by itself at its next
chunk or at its socket timeout; its results are dropped.

httpx (already needed by huggingface-hub) gives separate connect/read timeouts, proxies from the
environment and, on a redirect to another host, drops the Authorization header.

A computer without a network fails at the address lookup. huggingface-hub retries every network
error five times with a growing pause (about 20 s in all), which helps a busy server but never a
missing network, so the Hub's host name is looked up once first (:func:`check_address`) and a
failed lookup ends the request at once with one sentence (:class:`HubUnreachable`).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

import httpx

from conversion.errors import ConnectionLost, HubUnreachable
from conversion.progress import CancelToken

T = TypeVar("T")


@dataclass(frozen=True)
class DownloadPolicy:
    """How patient a download is. The defaults suit a real link; tests use a fast one."""

    connect_timeout: float = 15.0  # to open the TCP/TLS connection
    read_timeout: float = 30.0  # without a single byte, an attempt ends
    metadata_timeout: float = 60.0  # for a whole metadata request (repository info, search)
    low_speed_bytes: int = 16 << 10  # fewer bytes than this…
    low_speed_window: float = 60.0  # …over this many seconds: the link is too slow, try again
    progress_bytes: int = 1 << 20  # an attempt that brought this much resets the retry budget
    attempts_without_progress: int = 5  # attempts in a row that brought (almost) nothing
    backoff_first: float = 1.0  # wait before a retry, doubled after each fruitless attempt
    backoff_max: float = 30.0
    poll: float = 0.1  # how often a waiting caller looks at its cancel token

    def backoff(self, failures: int) -> float:
        return min(self.backoff_first * 2 ** max(failures - 1, 0), self.backoff_max)


DEFAULT_POLICY = DownloadPolicy()


def sleep_cancellable(seconds: float, cancel: CancelToken, poll: float = 0.1) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        cancel.check()
        time.sleep(min(poll, left))
    cancel.check()


def call_cancellable(
    fn: Callable[[], T], cancel: CancelToken, policy: DownloadPolicy, what: str
) -> T:
    """``fn()`` on a daemon thread; Cancelled or ConnectionLost (after the metadata timeout)
    come back within ``policy.poll`` seconds even if ``fn`` blocks for ever."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the waiting caller, raised there
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, daemon=True, name="hub-request").start()
    deadline = time.monotonic() + policy.metadata_timeout
    while not done.wait(policy.poll):
        cancel.check()
        if time.monotonic() > deadline:
            raise ConnectionLost(
                f"The Hub did not answer {what} within {policy.metadata_timeout:.0f} s."
            )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def lookup_failed(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an error that led to it, is a failed address lookup (DNS)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, socket.gaierror):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def unreachable(host: str) -> HubUnreachable:
    return HubUnreachable(
        f"Huacaya cannot reach {host}: check that this computer is connected to the internet, "
        "then try again."
    )


def _proxied(url: str, host: str) -> bool:
    """A proxy from the environment carries requests to ``url``: the proxy looks ``host`` up."""
    scheme = urllib.parse.urlsplit(url).scheme
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def check_address(url: str, cancel: CancelToken, policy: DownloadPolicy) -> None:
    """Look up the host of ``url`` once; HubUnreachable when the lookup fails. Behind a proxy
    nothing is looked up here (the proxy resolves the name)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if not host or _proxied(url, host):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    patience = replace(policy, metadata_timeout=policy.connect_timeout)
    try:
        call_cancellable(
            lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM),
            cancel,
            patience,
            f"the lookup of {host}",
        )
    except socket.gaierror as exc:
        raise unreachable(host) from exc
    except ConnectionLost as exc:  # the resolver did not answer in time: no network either
        raise unreachable(host) from exc


@dataclass(frozen=True)
class Head:
    status: int
    headers: httpx.Headers


class Transfer:
    """One GET streamed by a daemon thread; the caller reads ``head()`` then ``blocks()``.

    The caller must call ``close()`` (a ``with`` block does): the thread then stops at its next
    chunk instead of reading an endless body.
    """

    def __init__(self, url: str, headers: dict[str, str], policy: DownloadPolicy) -> None:
        self.policy = policy
        self.host = urllib.parse.urlsplit(url).hostname or url
        self._items: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=16)
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(url, headers), daemon=True, name="hub-download"
        )

    def __enter__(self) -> Transfer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()

    def _put(self, item: tuple[str, object]) -> bool:
        while not self._closed.is_set():
            try:
                self._items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout)
        try:
            with (
                httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if not self._put(("head", Head(response.status_code, response.headers))):
                    return
                if response.status_code not in (200, 206):
                    return
                for block in response.iter_bytes():
                    if not block:
                        continue
                    if not self._put(("data", block)):
                        return
            self._put(("end", None))
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            self._put(("error", exc))

    def _next(self, cancel: CancelToken, patience: float, waiting_for: str) -> tuple[str, object]:
        deadline = time.monotonic() + patience
        while True:
            cancel.check()
            try:
                kind, value = self._items.get(timeout=self.policy.poll)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise ConnectionLost(
                        f"The Hub sent nothing for {patience:.0f} s {waiting_for}."
                    ) from None
                continue
            if kind == "error":
                cause = value if isinstance(value, BaseException) else None
                if lookup_failed(cause):
                    raise unreachable(self.host) from cause
                raise ConnectionLost(f"The connection to the Hub failed: {value}.") from cause
            return kind, value

    def head(self, cancel: CancelToken) -> Head:
        patience = self.policy.connect_timeout + self.policy.read_timeout
        kind, value = self._next(cancel, patience, "after the request")
        if kind != "head":
            raise ConnectionLost("The Hub closed the connection without answering.")
        return value  # type: ignore[return-value]

    def blocks(self, cancel: CancelToken) -> Iterator[bytes]:
        """The body as it arrives; ConnectionLost if it stalls or crawls below the policy's
        low-speed limit (a link that drips a byte now and then never finishes otherwise)."""
        policy = self.policy
        window_start, window_bytes = time.monotonic(), 0
        while True:
            kind, value = self._next(cancel, policy.read_timeout, "while downloading")
            if kind == "end":
                return
            block: bytes = value  # type: ignore[assignment]
            window_bytes += len(block)
            now = time.monotonic()
            if now - window_start >= policy.low_speed_window:
                if window_bytes < policy.low_speed_bytes:
                    raise ConnectionLost(
                        f"The download crawled at {window_bytes} bytes in "
                        f"{now - window_start:.0f} s."
                    )
                window_start, window_bytes = now, 0
            yield block
