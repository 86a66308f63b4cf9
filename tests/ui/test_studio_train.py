"""The Train step of "Make your own", used as a person: a real LoRA of a few steps on the
installed starter model, in the app's child process; the live loss curve, Pause and Resume
going on from the checkpoint, and a run that survives the studio window but not the app (the
next window shows it interrupted, and Resume continues it)."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QTreeWidget,
)

from conversion.ownership import Owner
from desktop.core.studio.project import StudioProject, create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.ui.main_window import MainWindow
from desktop.ui.studio.loss_curve import LossCurve
from desktop.ui.studio.window import StudioWindow
from tests.ui.conftest import open_window
from tests.ui.person import click
from tests.ui.studio_person import choose_a_short_lora, open_studio

pytestmark = pytest.mark.timeout(900)  # real training steps on a shared 2-core machine
RUN_MS = 300_000  # loading the base model (made once from the starter GGUF) and a few steps


def _project() -> StudioProject:
    project = create_project("Counting", base="")  # no base chosen: the starter is offered
    records = [StudioRecord(f"Say {n} in words.", "", f"It is {n}.") for n in range(6)]
    records.append(StudioRecord("Held back.", "", "Never trained on.", held_out=True))
    save_records(project.records_path, records)
    return project


def _train_tab(qtbot, window: MainWindow) -> StudioWindow:  # type: ignore[no-untyped-def]
    return open_studio(qtbot, window, "Train")


def _button(studio: StudioWindow, text: str) -> QPushButton:
    return next(b for b in studio.findChildren(QPushButton) if b.text() == text)


PAUSED_RUN_STEPS = 40


def _label(studio: StudioWindow, name: str) -> QLabel:
    label = studio.findChild(QLabel, name)
    assert label is not None
    return label


def _state(studio: StudioWindow) -> str:
    return _label(studio, "runState").text()


def _run_folder(project: StudioProject) -> Path:
    (folder,) = [p for p in project.runs_dir.iterdir() if not p.name.startswith(".")]
    return folder


def _manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_a_lora_runs_with_a_live_curve_and_pauses_and_resumes_from_its_checkpoint(
    qtbot, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    project = _project()
    studio = _train_tab(qtbot, window)
    plan = _label(studio, "trainPlan").text()
    assert "6 records to train on" in plan  # the held-out record is not trained on
    assert "not measured yet" in plan
    # No checkpoint but the one Pause makes: Resume can only go on from that one. Enough
    # steps that Pause lands before the end where a step takes a third of a second.
    choose_a_short_lora(qtbot, studio, steps=PAUSED_RUN_STEPS, every=1000)
    assert f"{PAUSED_RUN_STEPS} steps" in _label(studio, "trainPlan").text()
    click(_button(studio, "Measure time"))  # one real step, before starting
    start = _button(studio, "Start training")
    assert not start.isEnabled()  # one training at a time: the measurement is one
    qtbot.waitUntil(lambda: "measured:" in _label(studio, "trainPlan").text(), timeout=RUN_MS)
    estimate = _label(studio, "trainPlan").text()
    assert "s per step" in estimate and "peak memory" in estimate, estimate
    qtbot.waitUntil(start.isEnabled, timeout=RUN_MS)
    measure = project.runs_dir / ".measure"
    assert (measure / "metrics.csv").is_file() and not (measure / "model").exists()
    click(start)
    curve = studio.findChild(LossCurve, "lossCurve")
    assert curve is not None
    qtbot.waitUntil(lambda: len(curve.points) >= 1, timeout=RUN_MS)
    assert "training" in _state(studio)
    assert "tokens/s" in _label(studio, "runFigures").text()
    assert "peak memory" in _label(studio, "runFigures").text()

    studio.close()  # the run is the app's, not the studio window's: it goes on
    studio = _train_tab(qtbot, window)
    assert "training" in _state(studio) or "starting" in _state(studio)
    curve = studio.findChild(LossCurve, "lossCurve")
    assert curve is not None and curve.points
    click(_button(studio, "Pause"))
    qtbot.waitUntil(lambda: "paused" in _state(studio), timeout=RUN_MS)
    folder = _run_folder(project)
    paused_at = max(step for step, _ in curve.points)
    assert f"Resume goes on from step {paused_at}" in _state(studio)
    assert paused_at < PAUSED_RUN_STEPS

    click(_button(studio, "Resume"))
    qtbot.waitUntil(lambda: "finished" in _state(studio), timeout=RUN_MS)
    curve = studio.findChild(LossCurve, "lossCurve")
    assert curve is not None
    steps = [step for step, _ in curve.points]
    assert steps == list(range(1, PAUSED_RUN_STEPS + 1))  # continued, not restarted
    manifest = _manifest(folder)
    assert manifest["resumed_from_step"] == paused_at
    assert manifest["steps"] == PAUSED_RUN_STEPS
    runs = studio.findChild(QTreeWidget, "trainingRuns")
    assert runs is not None and runs.topLevelItem(0).text(2) == "finished"


def test_a_run_ends_with_the_app_and_resumes_from_its_checkpoint_in_the_next_window(
    qtbot, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    project = _project()
    studio = _train_tab(qtbot, window)
    project.runs_dir.mkdir(parents=True, exist_ok=True)
    choose_a_short_lora(qtbot, studio, steps=5, every=1)
    click(_button(studio, "Start training"))
    folder_holder: list[Path] = []

    def checkpointed() -> bool:
        folders = [p for p in project.runs_dir.iterdir() if not p.name.startswith(".")]
        folder_holder[:] = folders
        return bool(folders) and any((folders[0] / "checkpoints").glob("checkpoint-*/trainer_*"))

    qtbot.waitUntil(checkpointed, timeout=RUN_MS)
    folder = folder_holder[0]
    launch = json.loads((folder / ".launch.json").read_text(encoding="utf-8"))
    child = Owner.parse(launch["owner"])
    assert child is not None and child.alive()

    window.close()  # quitting the app ends the training child: nothing is left running
    assert not child.alive()
    assert not psutil.pid_exists(child.pid) or not child.alive()

    again = open_window(qtbot)
    try:
        studio = _train_tab(qtbot, again)
        assert "interrupted" in _state(studio)
        reached = max(int(line.split(",")[0]) for line in _metrics_steps(folder))
        click(_button(studio, "Resume"))
        qtbot.waitUntil(lambda: "training" in _state(studio), timeout=RUN_MS)
        assert 1 <= _manifest(folder)["resumed_from_step"] <= reached  # from its checkpoint
        click(_button(studio, "Stop now"))  # ends the child at once, mid-step
        assert "paused" in _state(studio)
        launch = json.loads((folder / ".launch.json").read_text(encoding="utf-8"))
        resumed_child = Owner.parse(launch["owner"])
        assert resumed_child is not None and not resumed_child.alive()
        click(_button(studio, "Resume"))
        qtbot.waitUntil(lambda: "finished" in _state(studio), timeout=RUN_MS)
        manifest = _manifest(folder)
        assert manifest["resumed_from_step"] >= 1
        assert manifest["steps"] == 5
        assert [int(line.split(",")[0]) for line in _metrics_steps(folder)] == [1, 2, 3, 4, 5]
    finally:
        again.close()


def _metrics_steps(folder: Path) -> list[str]:
    lines = (folder / "metrics.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [line for line in lines if line.strip()]
