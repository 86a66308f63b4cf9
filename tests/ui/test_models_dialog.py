"""The Models window against the loopback Hub, used with the mouse and keyboard: the offline
switch, search (one request per search, every column right, the size filter), a job with
progress and its new model in the picker, Cancel, failures with Retry and Remove, and deleting
or renaming the model that is loaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from desktop.core.models.catalog import load_catalog
from desktop.core.models.library import ModelLibrary
from desktop.ui.main_window import MainWindow
from desktop.ui.models.hub_tab import COLUMNS
from tests.hub_server import LoopbackHub
from tests.ui.conftest import LOAD_MS, ask, open_window
from tests.ui.person import choose_in_combo, click, dialog_named, toggle, type_into_dialog

JOB_MS = 240_000


@pytest.fixture
def window(qtbot, hub_endpoint: LoopbackHub) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    main = open_window(qtbot)
    yield main
    if main.isVisible():
        main.close()


def open_models(qtbot, window: MainWindow, tab: str):  # type: ignore[no-untyped-def]
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dialog = window.models_dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible(), timeout=5_000)
    dialog = window.models_dialog
    bar = dialog.tabs.tabBar()
    index = next(i for i in range(bar.count()) if bar.tabText(i) == tab)
    click(bar, bar.tabRect(index).center())
    return dialog


def button(parent, text: str, qtbot=None) -> QPushButton:  # type: ignore[no-untyped-def]
    """The visible button ``text`` in ``parent`` (waiting until it is shown, with a qtbot)."""

    def shown() -> list[QPushButton]:
        # laid out and drawn, as a person sees it (a table rebuilds its cells after a change)
        return [
            b
            for b in parent.findChildren(QPushButton)
            if b.text() == text and b.isVisible() and not b.visibleRegion().isEmpty()
        ]

    if qtbot is not None:
        qtbot.waitUntil(lambda: bool(shown()), timeout=5_000)
    found = shown()
    assert found, f"no visible “{text}” button"
    return found[0]


def searches(hub: LoopbackHub) -> int:
    return sum(1 for path in hub.requests if path == "/api/models")


def test_offline_switch_search_columns_size_filter_and_one_request_per_search(
    qtbot, window: MainWindow, hub_endpoint: LoopbackHub
) -> None:
    dialog = open_models(qtbot, window, "Hugging Face")
    hub = dialog.hub_tab
    assert window.settings.offline and hub.offline.isChecked()
    before = searches(hub_endpoint)
    click(hub.search_box)
    qtbot.keyClicks(hub.search_box, "smollm2")
    qtbot.keyClick(hub.search_box, Qt.Key.Key_Return)
    assert "Offline mode is on" in hub.hub_status.text()  # said at once…
    assert searches(hub_endpoint) == before  # …and nothing was sent

    toggle(hub.offline)  # the switch, both ways
    assert not window.settings.offline and not window.menu_actions.offline.isChecked()
    with qtbot.waitSignal(hub.results_table.model().rowsInserted, timeout=30_000):
        qtbot.keyClick(hub.search_box, Qt.Key.Key_Return)
        click(hub.search_button)  # Enter and a click: one search, not two
    qtbot.waitUntil(lambda: not hub.searching, timeout=30_000)
    assert searches(hub_endpoint) == before + 1
    table = hub.results_table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == COLUMNS
    rows = {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(6)]
        for r in range(table.rowCount())
    }
    assert rows["test-org/smollm2-hf"][1:3] == ["135M", "5"]  # size, then likes: no shift
    assert rows["test-org/smollm2-gguf"][5] == "GGUF"

    choose_in_combo(qtbot, hub.max_size, 1e9)
    click(hub.search_button)
    qtbot.waitUntil(lambda: not hub.searching, timeout=30_000)
    shown = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert "test-org/smollm2-hf" in shown  # 135M ≤ 1B
    choose_in_combo(qtbot, hub.max_size, 0.0)

    toggle(hub.offline)
    assert window.settings.offline and window.menu_actions.offline.isChecked()
    window.menu_actions.offline.trigger()  # the menu's switch turns it off again
    assert not hub.offline.isChecked()


def test_a_download_shows_progress_and_its_model_in_the_picker(
    qtbot, window: MainWindow, hub_endpoint: LoopbackHub
) -> None:
    dialog = open_models(qtbot, window, "Catalogue")
    names = [dialog.catalog_table.item(r, 0).text() for r in range(dialog.catalog_table.rowCount())]
    assert len(names) == len(load_catalog()) and any("Alpaca" in n for n in names)
    click(button(dialog, "Download"))  # nothing chosen: nothing happens
    assert window.jobs.rows == {}

    dialog = open_models(qtbot, window, "Hugging Face")
    toggle(dialog.hub_tab.offline)
    click(dialog.hub_tab.repo_box)
    qtbot.keyClicks(dialog.hub_tab.repo_box, "test-org/smollm2-hf")
    choose_in_combo(qtbot, dialog.hub_tab.hub_quant, "q8_0")
    seen: list[float] = []
    window.jobs.changed.connect(lambda: seen.extend(r.fraction for r in window.jobs.rows.values()))
    with qtbot.waitSignal(window.jobs.installed, timeout=JOB_MS) as installed:
        click(dialog.findChild(QPushButton, "hubDownload"))
        qtbot.waitUntil(lambda: dialog.jobs_table.rowCount() == 1, timeout=30_000)
    assert any(0 < f < 1 for f in seen)  # progress was shown on the way
    assert dialog.jobs_table.cellWidget(0, 1).text() == "Installed"
    model_id = installed.args[0]
    assert window.model_picker.findData(model_id) >= 0  # selectable in the chat window
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        choose_in_combo(qtbot, window.model_picker, model_id)
    assert window.model_info.quantization == "Q8_0"
    click(button(dialog, "Clear finished"))
    assert dialog.jobs_table.rowCount() == 0


def test_cancel_stops_the_job_and_removes_its_files(
    qtbot, window: MainWindow, hub_endpoint: LoopbackHub
) -> None:
    hub_endpoint.knobs.delay_per_mb = 0.1
    dialog = open_models(qtbot, window, "Hugging Face")
    toggle(dialog.hub_tab.offline)
    click(dialog.hub_tab.repo_box)
    qtbot.keyClicks(dialog.hub_tab.repo_box, "test-org/smollm2-hf")
    click(dialog.findChild(QPushButton, "hubDownload"))
    qtbot.waitUntil(lambda: any(r.fraction > 0 for r in window.jobs.rows.values()), timeout=60_000)
    (job_id,) = window.jobs.rows
    folder = window.jobs.store.root / job_id
    cancel = dialog.jobs_table.cellWidget(0, 3).findChild(QPushButton)
    assert cancel.text() == "Cancel"
    click(cancel)
    qtbot.waitUntil(lambda: window.jobs.rows[job_id].state == "cancelled", timeout=15_000)
    assert not folder.exists()  # nothing left behind
    assert dialog.jobs_table.cellWidget(0, 1).text() == "Cancelled"
    assert [e.id for e in window.library.entries()] == ["smollm2-135m-instruct"]


def test_a_failed_job_says_why_and_offers_retry_and_remove(
    qtbot, window: MainWindow, hub_endpoint: LoopbackHub, tmp_path: Path
) -> None:
    dialog = open_models(qtbot, window, "Import")
    click(dialog.import_tab.import_path)
    qtbot.keyClicks(dialog.import_tab.import_path, str(tmp_path / "nothing-here"))
    click(dialog.import_tab.findChild(QPushButton, "importButton"))
    qtbot.waitUntil(
        lambda: any(r.state == "failed" for r in window.jobs.rows.values()), timeout=60_000
    )
    table = dialog.jobs_table
    assert table.cellWidget(0, 1).text() == "Failed"  # not "0%"
    assert "does not exist" in table.item(0, 2).text()  # the reason, in full
    header = table.horizontalHeader()
    assert header.sectionSize(2) > header.sectionSize(0)  # the status is not squeezed
    actions = table.cellWidget(0, 3)
    assert [b.text() for b in actions.findChildren(QPushButton)] == ["Retry", "Remove"]
    click(button(actions, "Retry", qtbot))
    qtbot.waitUntil(
        lambda: any(r.state == "failed" for r in window.jobs.rows.values()), timeout=60_000
    )
    click(button(table.cellWidget(0, 3), "Remove", qtbot))
    assert table.rowCount() == 0 and list(window.jobs.store.root.iterdir()) == []


def test_deleting_or_renaming_the_loaded_model_is_seen_by_the_chat(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    shutil.copyfile(starter_path, tmp_path / "second.gguf")
    copy = ModelLibrary().add_managed(tmp_path / "second.gguf", "Second model")
    window.models.on_library_changed()
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        choose_in_combo(qtbot, window.model_picker, copy.id)
    dialog = open_models(qtbot, window, "Installed")
    table = dialog.installed_table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Second model")
    click(table.viewport(), table.visualRect(table.model().index(row, 0)).center())

    click(button(dialog, "Rename…"))
    type_into_dialog(qtbot, "renameModelDialog", "Renamed model")
    assert window.model_picker.currentText() == "Renamed model"
    assert window.conversation.session.model_label == "Renamed model"
    ask(qtbot, window, "Say hi.")
    assert window.history.messages(window.conversation.conversation_id)[1].model == "Renamed model"

    click(button(dialog, "Delete…"))
    confirm = dialog_named(qtbot, "deleteModelDialog")
    assert isinstance(confirm, QMessageBox)
    assert confirm.defaultButton() is confirm.button(QMessageBox.StandardButton.No)
    assert "loaded now" in confirm.informativeText()
    qtbot.keyClick(confirm, Qt.Key.Key_Return)  # Enter means No
    assert ModelLibrary().get(copy.id)
    click(button(dialog, "Delete…"))
    confirm = dialog_named(qtbot, "deleteModelDialog")
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):  # the default model takes over
        click(confirm.button(QMessageBox.StandardButton.Yes))
    assert copy.id not in [e.id for e in window.library.entries()]
    assert window.model_picker.findData(copy.id) < 0
    assert window.model_entry.id == "smollm2-135m-instruct"
    assert window.model_entry.is_starter


def job_processes() -> list[psutil.Process]:
    """This test's child processes (exited but unreaped ones too), but for multiprocessing's
    resource tracker."""
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(process.cmdline()):
                found.append(process)
        except psutil.ZombieProcess:
            found.append(process)  # ended but never reaped: still a leftover
        except psutil.NoSuchProcess:
            continue
    return found


def test_cancel_during_quantization_ends_the_quantizer_too(
    qtbot, window: MainWindow, smollm_checkpoint: Path
) -> None:
    dialog = open_models(qtbot, window, "Import")
    click(dialog.import_tab.import_path)
    qtbot.keyClicks(dialog.import_tab.import_path, str(smollm_checkpoint))
    choose_in_combo(qtbot, dialog.import_tab.import_quant, "q4_k_m")
    click(dialog.import_tab.findChild(QPushButton, "importButton"))
    (job_id,) = window.jobs.rows
    qtbot.waitUntil(lambda: window.jobs.rows[job_id].message.startswith("quantize"), timeout=JOB_MS)
    job = next(p for p in job_processes() if p.ppid() == os.getpid())
    quantizers = job.children()
    assert quantizers  # the job's own child: llama.cpp's quantizer
    click(button(dialog.jobs_table.cellWidget(0, 3), "Cancel", qtbot))
    qtbot.waitUntil(lambda: window.jobs.rows[job_id].state == "cancelled", timeout=15_000)
    # When the job says "cancelled", its quantizer has already ended: nothing of it goes on
    # writing into the removed folder (on a real model that would be minutes).
    assert not any(q.is_running() and q.status() != psutil.STATUS_ZOMBIE for q in quantizers)
    qtbot.waitUntil(lambda: job_processes() == [], timeout=5_000)
    assert not (window.jobs.store.root / job_id).exists()
    assert [e.id for e in window.library.entries()] == ["smollm2-135m-instruct"]
