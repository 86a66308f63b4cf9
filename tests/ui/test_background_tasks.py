"""Short work off the GUI thread (``desktop/ui/background/tasks.py``): a person sees its progress
and stops it. Through the window: the Hub tab's Stop ends a lookup and a search the Hub never
answers, and opening a model file tells each step in the status line. Then the runner's promises
on its own: callbacks on the GUI thread, progress before the result, exactly one ending, a
cancelled task never reported as failed or done, nothing called back into a deleted owner."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QThread, QThreadPool
from PySide6.QtWidgets import QApplication, QMessageBox

from conversion.errors import Cancelled, ModelFileError
from conversion.progress import CancelToken, Progress
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.main_window import MainWindow
from tests.hub_server import LoopbackHub
from tests.ui.conftest import LOAD_MS, open_window
from tests.ui.person import click, from_menu, pick_file, toggle
from tests.ui.test_models_dialog import button, open_models, searches

WAIT_MS = 10_000


@pytest.fixture
def window(qtbot, hub_endpoint: LoopbackHub) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    main = open_window(qtbot)
    yield main
    if main.isVisible():
        main.close()


def _errors(window: MainWindow) -> list[str]:
    return [
        box.text()
        for box in window.findChildren(QMessageBox)
        if box.objectName() == "errorDialog" and box.isVisible()
    ]


def test_stop_ends_a_hub_lookup_and_a_search_that_the_hub_never_answers(
    qtbot, window: MainWindow, hub_endpoint: LoopbackHub
) -> None:
    dialog = open_models(qtbot, window, "Hugging Face")
    hub = dialog.hub_tab
    toggle(hub.offline)
    assert not hub.stop_button.isVisible()  # nothing to stop yet

    hub_endpoint.knobs.stall_metadata = True
    click(hub.repo_box)
    qtbot.keyClicks(hub.repo_box, "test-org/smollm2-hf")
    click(button(hub, "Download"))
    assert hub.hub_status.text() == "Looking up test-org/smollm2-hf…"
    click(button(hub, "Stop", qtbot))
    qtbot.waitUntil(lambda: hub.hub_status.text() == "Stopped.", timeout=WAIT_MS)
    assert not hub.stop_button.isVisible() and not hub.requests
    assert window.jobs.rows == {} and _errors(window) == []  # nothing started, nothing failed

    hub_endpoint.knobs.stall_search = True
    before = searches(hub_endpoint)
    click(hub.search_box)
    qtbot.keyClicks(hub.search_box, "smollm2")
    click(hub.search_button)
    assert hub.searching and not hub.search_button.isEnabled()
    qtbot.waitUntil(lambda: searches(hub_endpoint) == before + 1, timeout=WAIT_MS)  # it hangs
    click(button(hub, "Stop", qtbot))
    qtbot.waitUntil(lambda: not hub.searching, timeout=WAIT_MS)
    assert hub.hub_status.text() == "Stopped." and hub.search_button.isEnabled()
    assert hub.results_table.rowCount() == 0 and _errors(window) == []

    hub_endpoint.reset()  # the Hub answers again: the same search, with the same button
    with qtbot.waitSignal(hub.results_table.model().rowsInserted, timeout=WAIT_MS):
        click(hub.search_button)
    qtbot.waitUntil(lambda: not hub.searching, timeout=WAIT_MS)
    assert hub.hub_status.text().endswith("repositories.") and not hub.stop_button.isVisible()


def test_opening_a_model_file_tells_each_step_in_the_status_line(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "second.gguf"  # never checked before: llama.cpp opens it in a child
    shutil.copyfile(starter_path, copy)
    said: list[str] = []
    window.models.status.connect(lambda _text: said.append(window.status_label.text()))
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        from_menu(qtbot, window, "File", "Open model file…")
        pick_file(qtbot, copy)
    steps = [
        "Checking second.gguf…",
        "Opening second.gguf in llama.cpp to check it…",
        "Adding second.gguf to the library…",
    ]
    assert [s for s in said if s in steps] == steps  # each step, in order, before the load
    assert said.index(steps[-1]) < said.index(next(s for s in said if s.startswith("Loading")))
    assert window.model_entry is not None and window.model_entry.location == str(copy.resolve())


# -- the runner itself ------------------------------------------------------------------------


class Outcome:
    """What a task called back, and on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.threads: set[QThread] = set()

    def record(self, kind: str):  # type: ignore[no-untyped-def]
        def callback(*args: object) -> None:
            self.threads.add(QThread.currentThread())
            self.calls.append((kind, args[0] if len(args) == 1 else args))

        return callback

    def run(self, work, owner: QObject | None = None) -> Task:  # type: ignore[no-untyped-def]
        return run_in_background(
            work,
            self.record("success"),
            self.record("failure"),
            on_progress=self.record("progress"),
            on_cancelled=self.record("cancelled"),
            owner=owner,
        )


def _until_cancelled(started: threading.Event) -> object:
    """Work that goes on until it is cancelled (or, were cancel broken, gives up after a while,
    so that a failing test does not leave a thread running forever)."""

    def work(progress: Progress, cancel: CancelToken) -> str:
        progress(0.25, "started")
        started.set()
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            cancel.check()
            threading.Event().wait(0.005)  # the work's own pace; the test waits on signals
        return "never cancelled"

    return work


def test_progress_then_one_result_all_on_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    def work(progress: Progress, cancel: CancelToken) -> str:
        for step in range(10_000):
            progress(step / 10_000, "counting")  # a flood: tiny steps are not all sent
        progress(1.0, "done counting")
        return "result"

    outcome = Outcome()
    task = outcome.run(work)
    with qtbot.waitSignal(task.ended, timeout=WAIT_MS):
        pass
    kinds = [kind for kind, _ in outcome.calls]
    assert kinds[-1] == "success" and set(kinds[:-1]) == {"progress"}
    assert outcome.calls[-1] == ("success", "result")
    assert outcome.calls[-2] == ("progress", (1.0, "done counting"))
    assert len(kinds) < 2_000  # throttled
    assert outcome.threads == {QApplication.instance().thread()}
    assert not task.running


def test_cancel_ends_the_task_as_cancelled_only(qtbot) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    outcome = Outcome()
    task = outcome.run(_until_cancelled(started))
    assert started.wait(WAIT_MS / 1000)
    with qtbot.waitSignal(task.ended, timeout=WAIT_MS):
        task.cancel()
    kinds = [kind for kind, _ in outcome.calls]
    assert kinds[-1] == "cancelled" and "success" not in kinds and "failure" not in kinds


def test_errors_go_to_the_failure_callback(qtbot) -> None:  # type: ignore[no-untyped-def]
    def work(progress: Progress, cancel: CancelToken) -> None:
        raise ModelFileError("Not a model.", "Choose a .gguf file.")

    outcome = Outcome()
    task = outcome.run(work)
    with qtbot.waitSignal(task.ended, timeout=WAIT_MS):
        pass
    ((kind, error),) = outcome.calls
    assert kind == "failure" and isinstance(error, ModelFileError)
    assert not isinstance(error, Cancelled)


def test_work_that_finished_despite_a_cancel_is_delivered(qtbot) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()

    def work(progress: Progress, cancel: CancelToken) -> str:
        release.wait(WAIT_MS / 1000)
        return "done anyway"  # past the point where it could stop

    outcome = Outcome()
    task = outcome.run(work)
    task.cancel()
    with qtbot.waitSignal(task.ended, timeout=WAIT_MS):
        release.set()
    assert outcome.calls == [("success", "done anyway")]


def test_a_deleted_owner_is_never_called_back_and_its_task_stops(qtbot) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    owner = QObject()
    outcome = Outcome()
    task = outcome.run(_until_cancelled(started), owner)
    assert started.wait(WAIT_MS / 1000)
    token = task.token
    with qtbot.waitSignal(owner.destroyed, timeout=WAIT_MS):
        owner.deleteLater()
    assert token.cancelled
    assert QThreadPool.globalInstance().waitForDone(WAIT_MS)  # the work has stopped…
    QApplication.processEvents()  # …and whatever it sent has been delivered
    assert [kind for kind, _ in outcome.calls] in ([], ["progress"])
