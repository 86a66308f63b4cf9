"""Fixtures: Stanford's real seed tasks, small seed files, and a loopback OpenAI teacher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.selfinstruct.seeds import Task
from tests.openai_server import LoopbackTeacher

STANFORD_SEEDS = Path(__file__).resolve().parents[2].parent / "shared/alpaca/seed_tasks.jsonl"


@pytest.fixture(scope="session")
def stanford_seeds() -> Path:
    if not STANFORD_SEEDS.is_file():
        pytest.skip("Stanford's seed tasks (../shared/alpaca/seed_tasks.jsonl) are not here")
    return STANFORD_SEEDS


def write_seeds(path: Path, tasks: list[Task]) -> Path:
    lines = [
        json.dumps(
            {
                "id": f"seed_task_{i}",
                "instruction": t.instruction,
                "instances": [{"input": t.input, "output": t.output}],
                "is_classification": False,
            }
        )
        for i, t in enumerate(tasks)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL_SEEDS = [
    Task("Give three tips for staying healthy.", "", "Eat well, sleep, and move every day."),
    Task("What is the capital of the given country?", "France", "Paris."),
    Task("Sort the numbers from smallest to largest.", "5, 2, 9", "2, 5, 9"),
    Task("Suggest a name for a new coffee shop by the sea.", "", "The Salty Bean."),
    Task(
        "Classify the sentiment of the review as positive or negative.", "I loved it.", "Positive"
    ),
    Task("Translate the sentence into Spanish.", "Good morning.", "Buenos días."),
]


@pytest.fixture(scope="session")
def teacher_server() -> Iterator[LoopbackTeacher]:
    server = LoopbackTeacher().start()
    yield server
    server.stop()


@pytest.fixture
def teacher(teacher_server: LoopbackTeacher) -> LoopbackTeacher:
    teacher_server.reset()
    return teacher_server
