"""Hundreds of mutated requests to the local API (loopback): each answered or refused with a
4xx in OpenAI's error shape, never a 500, a dropped connection, a hang (> 30 s) or a server
above 1 GB; the server answers normally afterwards. Seeded; ``HUACAYA_FUZZ_TRIES`` for more."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.harness import judge, run_worker, tries

SEED = 20260302


def test_mutated_api_requests_are_answered_or_refused(tmp_path: Path) -> None:
    count = tries(300)
    records = run_worker(
        "tests.fuzz.api_cases",
        str(tmp_path),
        str(SEED),
        str(count),
        env={"HUACAYA_HOME": str(tmp_path / "home")},
    )
    outcomes = judge(records, count + 1, "API requests")
    assert outcomes["refused"] > count // 4 and outcomes["ok"] > count // 10
