"""Hundreds of mutated chat exports imported as the app imports them: each is refused in one
line or imported and usable; no traceback, signal, hang (> 30 s) or process above 1 GB, and the
history database intact afterwards. Seeded; ``HUACAYA_FUZZ_TRIES`` for a longer run."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.harness import judge, run_worker, tries

SEED = 20260301


def test_mutated_chat_exports_are_refused_clearly_or_imported(tmp_path: Path) -> None:
    count = tries(300)
    records = run_worker(
        "tests.fuzz.export_cases",
        str(tmp_path),
        str(SEED),
        str(count),
        env={"HUACAYA_HOME": str(tmp_path / "home")},
    )
    outcomes = judge(records, count + 1, "chat exports")
    assert outcomes["refused"] > count // 4 and outcomes["ok"] > count // 10
