"""Hundreds of hostile variants of real documents, and pipes, device links and loops in a
collection's folder: each read as the indexer reads it is text or "cannot be read"; indexing the
whole folder works; no traceback, signal, hang (> 30 s) or process above 1 GB. Seeded;
``HUACAYA_FUZZ_TRIES`` for a longer run."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.harness import judge, run_worker, tries

SEED = 20260303


def test_hostile_documents_are_read_or_refused(tmp_path: Path) -> None:
    count = tries(300)
    records = run_worker(
        "tests.fuzz.document_cases",
        str(tmp_path),
        str(SEED),
        str(count),
        env={"HUACAYA_HOME": str(tmp_path / "home")},
    )
    indexings = count // 50 + 1
    outcomes = judge(records, count + indexings + 1, "document folders")
    assert outcomes["refused"] > count // 4 and outcomes["ok"] > count // 10
