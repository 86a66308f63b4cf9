"""llama.cpp's OpenMP threads are told how to wait before llama-cpp-python loads libgomp.

Without it, once a process holds more OpenMP threads than cores (two Python threads that each ran
llama.cpp with 2+ threads), libgomp sleeps at every barrier after a microsecond's spin, and decoding
slowed from 96 to 38 tokens/s (conversion/openmp.py). The speed itself is a benchmark's business
(``benchmarks/engine.py --threads 2``); here the cause is checked: what libgomp read when it loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Imports one of our modules as an entry point would, then asks the libgomp that llama.cpp
# loaded (never a fresh one: that would read the environment as it is now) what it read.
PROBE = """
import ctypes, sys
import {module}
import llama_cpp
maps = open("/proc/self/maps").read()
if "libgomp" not in maps:
    print("NO-LIBGOMP"); sys.exit(0)
sys.stdout.flush()
ctypes.CDLL("libgomp.so.1").omp_display_env(1)
"""


def _libgomp_settings(module: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    if "NO-LIBGOMP" in done.stdout:
        pytest.skip("this llama.cpp build does not use GNU OpenMP")
    return done.stdout + done.stderr  # libgomp writes its settings to stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp is Linux's runtime")
@pytest.mark.parametrize("module", ["desktop.core.chat.engine", "conversion.decoding.model"])
def test_llama_cpp_threads_spin_at_barriers_and_sleep_when_idle(module: str) -> None:
    settings = _libgomp_settings(module)
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in settings
    assert "GOMP_SPINCOUNT = '300000'" in settings  # not ACTIVE's own: minutes of idle spinning


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp is Linux's runtime")
def test_what_the_user_set_is_kept() -> None:
    settings = _libgomp_settings("desktop.core.chat.engine", OMP_WAIT_POLICY="passive")
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in settings
