"""A studio training run's state, read from its folder alone: what any window, or a window opened
after a restart, shows. And what a run is started with: the project's training records, the
same arguments again on resume."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversion.errors import StudioError
from conversion.ownership import Owner
from conversion.train.run_record import MetricRow, MetricsFile, write_manifest
from desktop.core.studio import runs, training, training_devices
from desktop.core.studio.finished import finished_runs
from desktop.core.studio.project import StudioProject, create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.core.studio.run_names import RUN_STAMP
from desktop.core.studio.runs import list_runs, read_run
from desktop.core.studio.training import TrainOptions


def _dead_owner() -> str:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = Owner.of(process.pid)
    process.wait()
    assert owner is not None and not owner.alive()
    return owner.tag


def _project(tmp_path: Path, held_out: int = 1) -> StudioProject:
    project = create_project("Run states", base="smollm2-135m-instruct", root=tmp_path)
    records = [StudioRecord(f"Question {n}?", "", f"Answer {n}.") for n in range(5)]
    records += [StudioRecord("Kept back?", "", "Yes.", held_out=True)] * held_out
    records.append(StudioRecord("No answer yet", "", ""))  # incomplete: not trained on
    save_records(project.records_path, records)
    return project


def _run(tmp_path: Path, owner: str, status: str = "running", steps: int = 3) -> Path:
    folder = training.prepare_run(_project(tmp_path), TrainOptions("smollm2-135m-instruct"))
    launch = json.loads((folder / runs.LAUNCH_FILE).read_text(encoding="utf-8"))
    launch["owner"] = owner
    (folder / runs.LAUNCH_FILE).write_text(json.dumps(launch), encoding="utf-8")
    write_manifest(folder, {"status": status, "total_steps": 10, "steps": steps})
    metrics = MetricsFile(folder / "metrics.csv")
    for step in range(1, steps + 1):
        metrics.add(MetricRow(step, 3.0 - step / 10, 1e-4, 100.0 * step, 0.1, None, 1.5, 2.0))
    for step in (1, 2):
        (folder / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        (folder / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (folder / "checkpoints" / "checkpoint-3").mkdir()  # cut short by a kill: not complete
    return folder


def test_a_run_starts_with_the_training_records_only_and_the_arguments_to_resume(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    options = TrainOptions("smollm2-135m-instruct", max_steps=4, max_length=64, save_steps=2)
    folder = training.prepare_run(project, options)
    data = json.loads((folder / runs.DATA_FILE).read_text(encoding="utf-8"))
    assert [r["instruction"] for r in data] == [f"Question {n}?" for n in range(5)]
    launch = json.loads((folder / runs.LAUNCH_FILE).read_text(encoding="utf-8"))
    arguments = launch["arguments"]
    assert arguments[arguments.index("--out") + 1] == str(folder)
    assert arguments[arguments.index("--data") + 1] == str(folder / runs.DATA_FILE)
    assert "--lora" in arguments and arguments[arguments.index("--max-steps") + 1] == "4"
    assert "--lora" not in TrainOptions("x", full=True).arguments(folder)
    assert launch["records"] == 5 and launch["total_steps"] == 4
    # Stanford's 3 epochs of 128 examples per step: 2 steps an epoch for 200 records
    assert TrainOptions("x").total_steps(200) == 6
    assert read_run(folder).state == runs.INTERRUPTED  # prepared, never started


def test_runs_started_in_the_same_minute_have_names_of_their_own_in_every_step(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    year = time.localtime().tm_year  # (another year's runs are named with their year)
    for second in ("041427", "041450", "041450", "041503"):
        when = time.strptime(f"{year}-12-05 {second}", RUN_STAMP)
        folder = training.prepare_run(
            project, TrainOptions("smollm2-135m-instruct"), training.new_run_folder(project, when)
        )
        write_manifest(folder, {"status": "finished", "steps": 1, "final_loss": 1.0})
        (folder / "model").mkdir()
    names = [run.name for run in list_runs(project)]  # the Train step's list, newest first
    assert names == ["5 Dec 04:15", "5 Dec 04:14 (3)", "5 Dec 04:14 (2)", "5 Dec 04:14"]
    # the Compare and Use steps' run pickers call them the same
    assert sorted(run.label for run in finished_runs(project)) == sorted(names)


def test_no_records_to_train_on_is_refused_with_what_to_do(tmp_path: Path) -> None:
    project = create_project("Empty", root=tmp_path)
    save_records(project.records_path, [StudioRecord("Held", "", "out", held_out=True)])
    with pytest.raises(StudioError, match="The one record is held out"):
        training.prepare_run(project, TrainOptions("smollm2-135m-instruct"))
    assert not project.runs_dir.exists() or not any(project.runs_dir.iterdir())


def test_a_manifest_saying_running_with_no_live_process_is_interrupted(tmp_path: Path) -> None:
    folder = _run(tmp_path, _dead_owner())
    run = read_run(folder)
    assert run.state == runs.INTERRUPTED and run.resumable
    assert run.checkpoint_step == 2  # the last complete checkpoint: where Resume goes on
    assert run.step == 3 and run.total_steps == 10
    assert run.losses == [(1, 2.9), (2, 2.8), (3, 2.7)]
    assert run.peak_memory_gib == 1.5 and run.tokens_per_second == 300.0


def test_a_live_process_is_running_then_stopping_once_asked(tmp_path: Path) -> None:
    folder = _run(tmp_path, Owner.current().tag)
    run = read_run(folder)
    assert run.state == runs.RUNNING and not run.resumable
    assert run.seconds_per_step == 2.0 and run.seconds_left == 14.0  # 7 steps of 2 s left
    training.request_stop(folder)
    assert read_run(folder).state == runs.STOPPING


def test_a_stopped_run_is_paused_and_a_failed_one_says_why(tmp_path: Path) -> None:
    folder = _run(tmp_path, _dead_owner())
    training.write_outcome(folder, runs.PAUSED, "Training stopped at step 2.")
    assert read_run(folder).state == runs.PAUSED
    training.write_outcome(folder, runs.FAILED, "Out of memory.", "Use LoRA.")
    run = read_run(folder)
    assert (run.state, run.error, run.hint) == (runs.FAILED, "Out of memory.", "Use LoRA.")


def test_a_finished_run_is_finished_whatever_else_the_folder_says(tmp_path: Path) -> None:
    folder = _run(tmp_path, _dead_owner(), status="finished", steps=3)
    (folder / "model").mkdir()
    run = read_run(folder)
    assert run.state == runs.FINISHED and run.total_steps == 3 and not run.resumable
    project = StudioProject(folder.parent.parent)
    assert [r.folder for r in list_runs(project)] == [folder]


def test_the_child_leaves_a_failure_message_in_the_run_folder(tmp_path: Path) -> None:
    """A real child process: a base that is not installed fails with the training's message."""
    project = _project(tmp_path)
    folder = training.prepare_run(project, TrainOptions("no-such-model", max_steps=1))
    process = training.launch(folder)
    assert process.wait(timeout=240) == 1
    run = read_run(folder)
    assert run.state == runs.FAILED, runs.log_tail(folder)
    assert "no-such-model" in run.error


def test_the_estimate_is_a_measured_step_times_the_steps_and_only_for_the_same_shape(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    options = TrainOptions("smollm2-135m-instruct", max_length=64, global_batch=2)
    assert "not measured yet" in training.estimate(project, options, 30)
    folder = training.prepare_measurement(project, options)
    launch = json.loads((folder / runs.LAUNCH_FILE).read_text(encoding="utf-8"))
    assert launch["arguments"][launch["arguments"].index("--max-steps") + 1] == "1"
    MetricsFile(folder / "metrics.csv").add(MetricRow(1, 2.5, 1e-4, 50.0, 0.5, None, 1.4, 4.0))
    said = training.estimate(project, options, 30)
    assert said == "Time: about 2 min (measured: 4.0 s per step, peak memory 1.4 GB)."
    longer = TrainOptions("smollm2-135m-instruct", max_length=512, global_batch=2)
    assert "not measured yet" in training.estimate(project, longer, 30)  # another shape
    assert list_runs(project) == []  # the measurement is not one of the project's runs


def test_the_packaged_app_says_it_cannot_train_instead_of_starting_itself_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as PyInstaller sets it
    assert training_devices.detect_devices().missing == "torch"
    folder = training.prepare_run(_project(tmp_path), TrainOptions("smollm2-135m-instruct"))
    with pytest.raises(StudioError, match="cannot train"):
        training.launch(folder)
