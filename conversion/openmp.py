"""How llama.cpp's OpenMP threads wait, set before llama-cpp-python loads its libraries.

llama-cpp-python's Linux build runs llama.cpp's CPU threads with GNU OpenMP (libgomp), and
llama.cpp waits for its threads at a barrier after every operation: hundreds of times per token.
libgomp spins a while at a barrier before it sleeps; but once the process holds more OpenMP
threads than the computer has cores, it spins only 100 times (about a microsecond) first. Every
Python thread that runs llama.cpp with two or more threads gets a team of its own (the chat's,
the local API's, a teacher's, the document embedder's), so in the app this is the rule, not the
exception: each token then pays hundreds of sleeps and wake-ups. Measured with the starter model
and 2 threads on a 2-core machine (``benchmarks/engine.py --threads 2``, whose two ways decode on
two threads): 38 tokens/s; with the settings below, 96 — the speed of one team alone.

``OMP_WAIT_POLICY=active`` raises that short spin to 1,000 turns; alone it would also make every
idle thread spin for minutes (a core kept busy while the app waits: measured), so
``GOMP_SPINCOUNT`` keeps the ordinary spin at libgomp's own default (300,000 turns, a few
milliseconds) before sleeping. libgomp reads both once, when it is loaded, so this must run
before ``llama_cpp`` is first imported: both packages' ``__init__`` call it. A value the user set
is kept; other OpenMP runtimes (macOS and Windows builds) ignore what they do not know.
"""

from __future__ import annotations

import os

SETTINGS = {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "300000"}


def configure() -> None:
    for name, value in SETTINGS.items():
        os.environ.setdefault(name, value)
