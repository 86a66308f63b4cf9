"""The Models window against the loopback Hub: catalogue, a pipeline job with progress, and the
new model in the chat window's picker."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from desktop.core.catalog import load_catalog
from desktop.ui.main_window import MainWindow
from tests.hub_server import LoopbackHub

TIMEOUT_MS = 240_000


@pytest.fixture
def window(qtbot, hub_endpoint: LoopbackHub):  # type: ignore[no-untyped-def]
    main = MainWindow()
    qtbot.addWidget(main)
    with qtbot.waitSignal(main.model_ready, timeout=60_000):
        main.show()
    yield main
    main.close()


def test_catalogue_job_progress_and_the_new_model_in_the_picker(qtbot, window: MainWindow):
    dialog = window.open_models()
    names = [dialog.catalog_table.item(r, 0).text() for r in range(dialog.catalog_table.rowCount())]
    assert len(names) == len(load_catalog()) and any("Alpaca" in n for n in names)
    assert all(dialog.catalog_table.item(r, 5).text() for r in range(len(names)))  # fits column
    assert window.settings.offline

    dialog.repo_box.setText("test-org/smollm2-hf")
    dialog.hub_quant.setCurrentIndex(dialog.hub_quant.findData("q8_0"))
    seen: list[float] = []
    window.jobs.changed.connect(lambda: seen.extend(f for _t, f, _m in window.jobs.status.values()))
    with qtbot.waitSignal(window.jobs.installed, timeout=TIMEOUT_MS) as installed:
        dialog.findChild(QPushButton, "hubDownload").click()
        qtbot.waitUntil(lambda: dialog.jobs_table.rowCount() == 1, timeout=30_000)
        assert not window.settings.offline  # downloading ended offline mode
    assert any(0 < f < 1 for f in seen)  # progress was shown on the way
    model_id = installed.args[0]
    assert window.model_picker.findData(model_id) >= 0  # selectable in the chat window
    installed_ids = [
        dialog.installed_table.item(r, 0).data(Qt.ItemDataRole.UserRole)
        for r in range(dialog.installed_table.rowCount())
    ]
    assert model_id in installed_ids
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.load_model(window.library.get(model_id))
    assert window.model_info.quantization == "Q8_0"


def test_cancel_stops_the_job_and_removes_its_files(qtbot, window: MainWindow, hub_endpoint):  # type: ignore[no-untyped-def]
    from desktop.core.jobs import JobSpec

    hub_endpoint.knobs.delay_per_mb = 0.1
    dialog = window.open_models()
    job = window.jobs.start(JobSpec("hub", "test-org/smollm2-hf", quant="q8_0"))
    folder = window.jobs.store.folder(job)
    qtbot.waitUntil(lambda: any(f > 0 for _t, f, _m in window.jobs.status.values()), timeout=60_000)
    cancel = dialog.jobs_table.cellWidget(0, 3)
    assert cancel is not None and cancel.text() == "Cancel"
    cancel.click()
    assert not folder.exists()  # nothing left behind
    assert "Cancelled" in window.jobs.status[job.id][2]
    assert [e.id for e in window.library.entries()] == ["smollm2-135m-instruct"]


def test_import_tab_installs_a_gguf_file(qtbot, window: MainWindow, starter_path) -> None:  # type: ignore[no-untyped-def]
    dialog = window.open_models()
    dialog.import_tab.import_path.setText(str(starter_path))
    with qtbot.waitSignal(window.jobs.installed, timeout=TIMEOUT_MS) as installed:
        dialog.import_tab.findChild(QPushButton, "importButton").click()
    entry = window.library.get(installed.args[0])
    assert entry.quantization == "Q4_1" and not entry.is_starter
    assert window.model_picker.findData(entry.id) >= 0
    assert window.settings.offline  # a local import needs no network
