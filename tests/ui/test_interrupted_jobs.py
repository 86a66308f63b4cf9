"""A job whose process died (kill -9, a crash) is shown at the next start as interrupted, with
the disk space it keeps, Resume (it continues from its finished steps) and Discard (its files
go); a second job on the same source is refused with a clear message."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton

from conversion.convert import convert
from conversion.ownership import Owner
from desktop.core.jobs.store import JobSpec, JobStore
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import open_window
from tests.ui.person import click, type_into_dialog
from tests.ui.test_models_dialog import JOB_MS, button, open_models


def dead_owner() -> str:
    """The tag of a process that ran and ended (as a killed job's owner is)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    owner = Owner.of(child.pid)
    child.communicate(b"")
    assert owner is not None and not owner.alive()
    return owner.tag


def interrupted_job(store: JobStore, source: Path, name: str, converted: bool) -> str:
    """A job as a kill -9 leaves it: running, its owner gone, its finished steps kept."""
    job = store.create(JobSpec("import", str(source), name, quant=""))
    job.state, job.step, job.fraction, job.owner = "running", "convert", 0.6, dead_owner()
    store.save(job)
    if converted:
        convert(source, store.folder(job) / "model-f16.gguf", "f16")
    return job.id


@pytest.fixture
def two_interrupted(smollm_checkpoint: Path, huacaya_home: Path) -> Iterator[tuple[str, str]]:
    store = JobStore()
    yield (
        interrupted_job(store, smollm_checkpoint, "Resumed model", converted=True),
        interrupted_job(store, smollm_checkpoint.parent, "Discarded model", converted=False),
    )


def test_interrupted_jobs_offer_resume_and_discard_with_their_disk_space(
    qtbot, two_interrupted: tuple[str, str], smollm_checkpoint: Path
) -> None:  # type: ignore[no-untyped-def]
    resumed_id, discarded_id = two_interrupted
    window: MainWindow = open_window(qtbot)
    dialog = open_models(qtbot, window, "Import")
    table = dialog.jobs_table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert set(rows) == {"Resumed model", "Discarded model"}  # neither restarted by itself
    row = rows["Resumed model"]
    state = table.cellWidget(row, 1)
    assert isinstance(state, QLabel) and state.text() == "Interrupted"
    status = table.item(row, 2).text()
    assert "Interrupted while converting at 60%" in status and "MB kept on disk" in status
    actions = table.cellWidget(row, 3)
    assert [b.text() for b in actions.findChildren(QPushButton)] == ["Resume", "Discard"]

    store = window.jobs.store
    dialog.resize(1300, 850)  # as a person makes the window bigger, and scrolls to the row
    discard = button(table.cellWidget(rows["Discarded model"], 3), "Discard", qtbot)
    scroll_to(qtbot, table, rows["Discarded model"], discard)
    click(discard)
    assert not (store.root / discarded_id).exists()
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=5_000)

    resume = button(table.cellWidget(0, 3), "Resume", qtbot)
    scroll_to(qtbot, table, 0, resume)
    with qtbot.waitSignal(window.jobs.installed, timeout=JOB_MS) as installed:
        click(resume)
    entry = window.library.get(installed.args[0])
    assert entry.name == "Resumed model" and entry.quantization == "F16"
    assert table.cellWidget(0, 1).text() == "Installed"
    assert not (store.root / resumed_id).exists()

    # A second import of a source that another process (a terminal) is importing is refused.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, probe_target(smollm_checkpoint)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        dialog = open_models(qtbot, window, "Import")
        click(dialog.import_tab.import_path)
        qtbot.keyClicks(dialog.import_tab.import_path, str(smollm_checkpoint))
        click(dialog.import_tab.findChild(QPushButton, "importButton"))
        type_into_dialog(qtbot, "importNameDialog", "Second import")
        qtbot.waitUntil(
            lambda: dialog.findChild(QMessageBox, "errorDialog") is not None, timeout=5_000
        )
        box = dialog.findChild(QMessageBox, "errorDialog")
        assert (
            f"Importing “{smollm_checkpoint.name}” is already in progress (process " in box.text()
        )
        assert "huacaya models jobs" in box.informativeText()
        assert table.rowCount() == 1 and len(store.all()) == 0  # nothing was started
        click(button(box, "OK", qtbot))
    finally:
        holder.communicate("")
    window.close()


def scroll_to(qtbot, table, row: int, target: QPushButton) -> None:  # type: ignore[no-untyped-def]
    """Scroll the table (as a person drags its scroll bar) until ``target``'s middle shows."""
    table.scrollTo(table.model().index(row, 3))
    viewport, bar = table.viewport(), table.verticalScrollBar()
    middle = target.mapTo(viewport, target.rect().center())
    bar.setValue(bar.value() + middle.y() - viewport.height() // 2)
    qtbot.waitUntil(
        lambda: viewport.rect().contains(target.mapTo(viewport, target.rect().center())),
        timeout=5_000,
    )


HOLD_LOCK = """
import sys
from desktop.core.jobs import locks
with locks.hold(sys.argv[1], "Importing"):
    print("held", flush=True)
    sys.stdin.read()
"""


def probe_target(source: Path) -> str:
    from desktop.core.jobs.store import Job

    return Job("", JobSpec("import", str(source))).target
