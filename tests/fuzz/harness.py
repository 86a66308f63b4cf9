"""Running seeded fuzz cases in a worker process, so that what they guard against can be seen.

A traceback is easy to catch in-process; a signal (an abort in a C library), a hang or a
runaway allocation would take the test run down with it. So a fuzzer here is a module run as
``python -m``: :func:`run_cases` executes its cases one by one, each under a time limit, and
prints one JSON line as each starts and one with its outcome. :func:`run_worker` starts that
process, stops it when a case outlives the limit, and returns the records; :func:`judge` fails
on any traceback, signal, hang or peak memory above the limit, naming the case.

Outcomes: ``ok`` (accepted and used), ``refused`` (one clear message: a HuacayaError, or what
the case calls a refusal), ``traceback``, ``hang``, ``signal``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HANG_SECONDS = 30
MAX_RSS_MB = 1024
ADDRESS_SPACE = 6 << 30  # a safety net for the machine: a runaway allocation fails here


class _Hang(BaseException):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang


def peak_rss_mb() -> float:
    """This process's peak memory since it started its program. (Linux keeps ``ru_maxrss``
    across exec: a worker started by a 4 GB test run would report 4 GB at once; VmHWM belongs
    to the new program.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cases(cases: Iterable[tuple[str, Callable[[], str]]]) -> None:
    """In the worker: each case returns "ok" or "refused", or raises. A HuacayaError is a
    refusal too, if its message is one non-empty line."""
    from conversion.errors import HuacayaError

    if hasattr(resource, "RLIMIT_AS"):
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    signal.signal(signal.SIGALRM, _on_alarm)
    for name, case in cases:
        print(json.dumps({"start": name}), flush=True)
        record: dict[str, Any] = {"case": name}
        started = time.perf_counter()
        signal.alarm(HANG_SECONDS)
        try:
            record["outcome"] = case()
        except _Hang:
            record["outcome"] = "hang"
        except HuacayaError as exc:
            clear = exc.message.strip() and "\n" not in exc.message
            record["outcome"] = "refused" if clear else "traceback"
            record["message"] = exc.message[:300]
        except BaseException as exc:  # what the fuzzer exists to find
            record["outcome"] = "traceback"
            record["message"] = "".join(traceback.format_exception(exc))[-2000:]
        finally:
            signal.alarm(0)
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["maxrss_mb"] = round(peak_rss_mb(), 1)
        print(json.dumps(record), flush=True)


def run_worker(module: str, *args: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run ``python -m module args``; a case that prints nothing for longer than the hang
    limit (stuck in C, where the alarm cannot reach) is a hang, a death a signal."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    errors: list[str] = []
    last_line = [time.monotonic()]

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            last_line[0] = time.monotonic()

    def drain() -> None:
        assert process.stderr is not None
        errors.append(process.stderr.read())

    readers = [threading.Thread(target=read), threading.Thread(target=drain)]
    for reader in readers:
        reader.start()
    hung = False
    while process.poll() is None:
        if time.monotonic() - last_line[0] > HANG_SECONDS + 15:
            hung = True
            process.kill()
            break
        time.sleep(0.2)
    process.wait()
    for reader in readers:
        reader.join()
    records: list[dict[str, Any]] = []
    started: str | None = None
    for line in lines:
        data = json.loads(line)
        if "start" in data:
            started = data["start"]
        else:
            records.append(data)
            started = None
    if started is not None:  # it died, or hung, during this case
        if hung:
            outcome = "hang"
        elif process.returncode < 0:
            outcome = "signal"
        else:
            outcome = "traceback"
        message = f"exit {process.returncode}: {''.join(errors)[-2000:]}"
        records.append({"case": started, "outcome": outcome, "message": message})
    elif process.returncode != 0:
        records.append(
            {"case": "(worker)", "outcome": "traceback", "message": "".join(errors)[-2000:]}
        )
    return records


def judge(records: list[dict[str, Any]], tries: int, name: str) -> Counter[str]:
    """Assert every case ended cleanly within time and memory; return the outcome counts."""
    outcomes = Counter(r["outcome"] for r in records)
    print(f"\n{name}: {len(records)} tries: {dict(outcomes)}")  # the figures for the notes
    bad = [r for r in records if r["outcome"] not in ("ok", "refused")]
    assert not bad, "\n\n".join(f"{r['case']}: {r['outcome']}\n{r.get('message')}" for r in bad)
    heavy = [r for r in records if r.get("maxrss_mb", 0) > MAX_RSS_MB]
    assert not heavy, f"above {MAX_RSS_MB} MB: {heavy[0]}"
    assert len(records) == tries, f"{len(records)} of {tries} cases ran"
    return outcomes


def tries(default: int) -> int:
    """``HUACAYA_FUZZ_TRIES`` for a longer run than the suite's."""
    return int(os.environ.get("HUACAYA_FUZZ_TRIES", str(default)))
