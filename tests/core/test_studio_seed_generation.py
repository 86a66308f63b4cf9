"""Records from seed tasks for a project, through the real self-instruct runner and a loopback
OpenAI-compatible teacher: N more each time, a stopped run hands over what it finished, the
progress names what was kept and dropped by reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.errors import DataGenerationError, SeedTasksError
from conversion.progress import CancelToken
from desktop.core.studio.project import create_project
from desktop.core.studio.records import import_dataset
from desktop.core.studio.seed_generation import (
    adopt_seed_tasks,
    generate_from_seed_tasks,
    open_teacher,
    project_seed_tasks,
)
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds


@pytest.fixture
def server() -> Iterator[LoopbackTeacher]:
    teacher = LoopbackTeacher().start()
    yield teacher
    teacher.stop()


def _teacher(server: LoopbackTeacher):  # type: ignore[no-untyped-def]
    return open_teacher("openai:fake", base_url=server.url, resolve_model=Path)


def test_more_records_each_time_and_progress_by_reason(
    tmp_path: Path, server: LoopbackTeacher
) -> None:
    project = create_project("Trial", root=tmp_path / "studio")
    with pytest.raises(DataGenerationError, match="no seed tasks"):
        generate_from_seed_tasks(project, _teacher(server), 5)
    adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
    assert project_seed_tasks(project).is_file()

    lines: list[tuple[float, str]] = []
    first = generate_from_seed_tasks(
        project, _teacher(server), 5, progress=lambda f, m: lines.append((f, m))
    )
    assert len(first.records) == 5 and all(r.source == "seed tasks" for r in first.records)
    assert sum(first.dropped.values()) > 0  # the loopback teacher writes droppable tasks
    assert lines[-1][0] == 1.0 and lines[-1][1].startswith("kept 5 of 5 · dropped")
    assert any(reason in lines[-1][1] for reason in first.dropped)
    assert any("asking the teacher" in m for _, m in lines)

    second = generate_from_seed_tasks(project, _teacher(server), 3)
    assert len(second.records) == 3  # three more, none of the first five again
    assert not {r.instruction for r in second.records} & {r.instruction for r in first.records}


def test_a_stopped_run_hands_over_what_it_finished(tmp_path: Path, server: LoopbackTeacher) -> None:
    project = create_project("Trial", root=tmp_path / "studio")
    adopt_seed_tasks(project, write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS))
    cancel = CancelToken()

    def stop_after_a_record(fraction: float, message: str) -> None:
        if fraction > 0:
            cancel.cancel()

    stopped = generate_from_seed_tasks(
        project, _teacher(server), 200, progress=stop_after_a_record, cancel=cancel
    )
    assert stopped.stopped and 0 < len(stopped.records) < 200
    after = generate_from_seed_tasks(project, _teacher(server), 2)
    assert not {r.instruction for r in after.records} & {r.instruction for r in stopped.records}


def test_bad_seed_tasks_are_refused_with_the_line(tmp_path: Path) -> None:
    project = create_project("Trial", root=tmp_path / "studio")
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"instruction": "Fine.", "output": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(SeedTasksError, match="Line 2"):
        adopt_seed_tasks(project, bad)
    assert not project_seed_tasks(project).exists()


def test_import_marks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"instruction": "Say hi.", "input": "", "output": "Hi."}\n', "utf-8")
    (record,) = import_dataset(path)
    assert record.alpaca() == {"instruction": "Say hi.", "input": "", "output": "Hi."}
    assert record.source == "imported: mine.jsonl"
