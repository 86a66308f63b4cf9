"""A project's finished runs, what each became in the library, and what its comparison names
(the export itself, on a real run, is in tests/ui/test_studio_compare_use.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversion.errors import ModelNameError, StudioError
from conversion.ownership import Owner
from conversion.train.export import EXPORT_FOLDER_PREFIX, EXPORT_TYPES
from desktop.core.evaluation.items import load_prompts
from desktop.core.jobs.leftovers import remove_leftovers
from desktop.core.models.library import ModelLibrary
from desktop.core.models.starter import STARTER_ID, STARTER_NAME
from desktop.core.studio import comparing
from desktop.core.studio.finished import (
    EXPORTS_FILE,
    QUANTIZATIONS,
    Export,
    FinishedRun,
    check_model_name,
    export_run,
    exports,
    finished_runs,
    model_of,
    remember,
    suggested_model_name,
)
from desktop.core.studio.project import StudioProject, create_project
from desktop.core.studio.records import StudioRecord, save_records
from desktop.core.studio.run_names import run_label
from desktop.core.studio.runs import RunView


def _run(
    project: StudioProject, name: str, status: str, finished_at: str, model: bool = True
) -> Path:
    folder = project.runs_dir / name
    folder.mkdir(parents=True)
    manifest = {
        "status": status,
        "finished_at": finished_at,
        "steps": 40,
        "final_loss": 1.23456,
        "arguments": {"lora": name != "full", "base": "/nowhere", "base_source": STARTER_ID},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if model:
        (folder / "model").mkdir()
    return folder


def test_only_finished_runs_with_a_model_are_listed_newest_first(tmp_path: Path) -> None:
    project = create_project("Poems", root=tmp_path)
    _run(project, "older", "finished", "2026-01-01T10:00:00Z")
    _run(project, "full", "finished", "2026-02-01T10:00:00Z")
    _run(project, "running", "running", "")
    _run(project, "no-model", "finished", "2026-03-01T10:00:00Z", model=False)
    _run(project, ".measure", "finished", "2026-04-01T10:00:00Z")  # the Train step's timing
    (project.runs_dir / "damaged").mkdir()
    (project.runs_dir / "damaged" / "manifest.json").write_text("{", encoding="utf-8")
    runs = finished_runs(project)
    assert [r.name for r in runs] == ["full", "older"]
    assert not runs[0].lora and runs[1].lora and runs[1].base_source == STARTER_ID
    assert runs[1].describe() == "older — LoRA, 40 steps, final loss 1.235"


def test_a_run_is_called_by_when_it_started_in_every_step() -> None:
    december = time.strptime("2026-12-31", "%Y-%m-%d")
    assert run_label("2026-12-05 041427", december) == "5 Dec 04:14"
    assert run_label("2026-12-05 041427 (2)", december) == "5 Dec 04:14 (2)"
    assert run_label("2025-01-15 230000", december) == "15 Jan 2025 23:00"  # another year's
    assert run_label("first-run", december) == "first-run"  # not named by the app
    folder = Path("2026-12-05 041427")
    view = RunView(folder, "finished")  # the Train step's list and panel
    finished = FinishedRun(folder, 2, 1.5, True, "", "", "")  # the Compare and Use steps'
    assert view.name == finished.label == run_label(folder.name)
    assert finished.describe().startswith(f"{view.name} — LoRA, 2 steps")


def test_a_name_already_installed_is_refused_and_another_suggested(
    tmp_path: Path, starter_path: Path
) -> None:
    project = create_project("Poems", root=tmp_path / "studio")
    library = ModelLibrary(tmp_path / "models")
    assert check_model_name("  Poems  again ", library) == "Poems again"
    _run(project, "2026-12-05 041427", "finished", "2026-12-05T04:20:00Z")
    (run,) = finished_runs(project)
    assert suggested_model_name(project, run, library) == "Poems"
    library.add_file(starter_path, "Poems")
    with pytest.raises(ModelNameError, match="A model called “Poems” is already in your models"):
        check_model_name("poems", library)  # as `chat --model poems` would find it
    with pytest.raises(ModelNameError, match="Poems"):  # before any work
        export_run(project, run, "q8_0", "POEMS", library=library)
    assert suggested_model_name(project, run, library) == f"Poems ({run.label})"
    with pytest.raises(ModelNameError, match="needs a name"):
        check_model_name("   ", library)


def test_which_model_a_run_became_is_remembered_while_it_is_installed(
    tmp_path: Path, starter_path: Path
) -> None:
    project = create_project("Poems", root=tmp_path / "studio")
    library = ModelLibrary(tmp_path / "models")
    assert model_of(project, "run-1", library) is None
    first = library.add_file(starter_path, "Poems")
    remember(project, Export("run-1", first.id, "Poems", "q8_0", "2026-01-01T00:00:00Z"))
    remember(project, Export("run-1", "gone", "Poems", "q4_k_m", "2026-01-02T00:00:00Z"))
    assert [e.model_id for e in exports(project)] == [first.id, "gone"]
    found = model_of(project, "run-1", library)  # the newest still installed
    assert found is not None and found.model_id == first.id
    assert model_of(project, "run-2", library) is None
    library.remove(first.id)
    assert model_of(project, "run-1", library) is None
    (project.folder / EXPORTS_FILE).write_text("not json", encoding="utf-8")
    assert exports(project) == []  # a damaged file reads as none, and is not fatal


def test_every_export_type_is_offered_in_words_q8_0_first() -> None:
    assert sorted(kind for kind, _ in QUANTIZATIONS) == sorted(EXPORT_TYPES)
    assert QUANTIZATIONS[0][0] == "q8_0"
    assert all("bits" in words for _, words in QUANTIZATIONS)


def test_export_refuses_bad_choices_before_any_work(tmp_path: Path) -> None:
    project = create_project("Poems", root=tmp_path)
    _run(project, "run", "finished", "2026-01-01T10:00:00Z")
    (run,) = finished_runs(project)
    with pytest.raises(StudioError, match="Unknown quantization"):
        export_run(project, run, "q9_9")
    with pytest.raises(StudioError, match="base model this LoRA was trained on is gone"):
        export_run(project, run, "q8_0")
    assert not (project.folder / EXPORTS_FILE).exists()


def test_the_comparison_names_the_base_and_the_prompts(tmp_path: Path) -> None:
    project = create_project("Poems", base=STARTER_ID, root=tmp_path / "studio")
    library = ModelLibrary(tmp_path / "models")
    library.ensure_starter()
    assert comparing.base_side(project, None, library) == STARTER_NAME
    with pytest.raises(StudioError, match="no held-out records"):
        comparing.held_out_prompts(project)
    save_records(
        project.records_path,
        [StudioRecord("Keep me", output="x"), StudioRecord("Ask me", "with this", held_out=True)],
    )
    items = load_prompts(comparing.held_out_prompts(project))
    assert [(i.instruction, i.input) for i in items] == [("Ask me", "with this")]
    typed = comparing.own_prompts(project, "  First question\n\n[not json] second\n")
    assert [i.instruction for i in load_prompts(typed)] == ["First question", "[not json] second"]
    with pytest.raises(StudioError, match="No prompts"):
        comparing.own_prompts(project, " \n ")
    other = create_project("Other", base="not-installed", root=tmp_path / "studio")
    with pytest.raises(StudioError, match="is not installed"):
        comparing.base_side(other, None, library)


def test_an_export_killed_half_way_is_cleared_at_the_next_start(tmp_path: Path) -> None:
    """The app killed (kill -9, a power cut) while a run was being exported leaves the GGUF it
    was making beside the run; the next start removes it, and never a live export's."""
    project = create_project("Poems")  # in the app's data folder, where the app looks
    run = _run(project, "2026-12-05 041427", "finished", "2026-12-05T04:20:00Z")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = Owner.of(process.pid)
    process.wait()
    assert dead is not None and not dead.alive()
    killed = run / f"{EXPORT_FOLDER_PREFIX}{dead.tag}.x1y2.partial"
    killed.mkdir()
    (killed / "model-f16.gguf").write_bytes(b"GGUF" + bytes(1000))
    live = run / f"{EXPORT_FOLDER_PREFIX}{Owner.current().tag}.z3.partial"  # one going on now
    live.mkdir()
    assert remove_leftovers() >= 1004
    assert not killed.exists() and live.is_dir()
    assert sorted(p.name for p in run.iterdir()) == sorted([live.name, "manifest.json", "model"])
