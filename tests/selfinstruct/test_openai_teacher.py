"""An OpenAI-compatible loopback server as the teacher: faults, bad answers, the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conversion.errors import TeacherError, TeacherReplyError, TeacherUnreachableError
from conversion.selfinstruct.openai_teacher import OpenAITeacher
from conversion.selfinstruct.rouge import rouge_l, rouge_tokens
from conversion.selfinstruct.runner import GenerationConfig, generate
from conversion.selfinstruct.seeds import load_seed_tasks
from desktop.cli import generate as cli_generate
from tests.openai_server import LoopbackTeacher
from tests.selfinstruct.conftest import SMALL_SEEDS, write_seeds

CONFIG = GenerationConfig(num=40, prompt_tasks=3, batch_size=4)


def run(teacher: LoopbackTeacher, out: Path, config: GenerationConfig = CONFIG, **kwargs):  # type: ignore[no-untyped-def]
    client = OpenAITeacher("loopback-model", teacher.url, backoff=0.01, **kwargs)
    try:
        return generate(SMALL_SEEDS, client, out, config)
    finally:
        client.close()


def records(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(path.read_text(encoding="utf-8"))


def test_faults_change_nothing(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    clean = run(teacher, tmp_path / "clean.json")
    assert clean.records == 40
    asked = len(teacher.requests)
    # The same run through 429s (Retry-After), 5xx answers and dropped connections.
    teacher.reset()
    teacher.knobs.statuses.extend([429, 429, 503, 200, 502, 200, 200, 429])
    teacher.knobs.drop.extend([False, False, False, True, False, False, True])
    faulty = run(teacher, tmp_path / "faulty.json")
    assert records(tmp_path / "faulty.json") == records(tmp_path / "clean.json")
    assert faulty.dropped == clean.dropped
    assert len(teacher.requests) == asked + 7  # every fault was retried once
    # What the pipeline kept is valid and de-duplicated; what it dropped was counted.
    data = records(tmp_path / "clean.json")
    instructions = [r["instruction"] for r in data] + [t.instruction for t in SMALL_SEEDS]
    for i, record in enumerate(data):
        assert set(record) == {"instruction", "input", "output", "most_similar_instructions"}
        tokens = rouge_tokens(record["instruction"])
        for other in instructions[i + 1 :]:
            assert rouge_l(tokens, rouge_tokens(other)) <= 0.7
        for similar in record["most_similar_instructions"]:
            assert similar["score"] == rouge_l(tokens, rouge_tokens(similar["instruction"]))
    for reason in ("similar", "blacklisted word", "too short", "banned start", "cut off"):
        assert clean.dropped[reason] > 0, reason


def test_chat_api(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    result = run(teacher, tmp_path / "chat.json", GenerationConfig(num=10), api="chat")
    assert result.records == 10
    assert all("messages" in body for body in teacher.requests)


def test_unreachable_teacher_fails_at_once(tmp_path: Path) -> None:
    client = OpenAITeacher("m", "http://127.0.0.1:9/v1", backoff=0.01)
    started = time.monotonic()
    with pytest.raises(TeacherUnreachableError, match="Cannot reach the teacher") as caught:
        generate(SMALL_SEEDS, client, tmp_path / "out.json", CONFIG)
    assert time.monotonic() - started < 10 and "--base-url" in caught.value.hint
    assert records(tmp_path / "out.json") == []
    # Nothing was generated, so other settings (another model) need no --force.
    other = OpenAITeacher("another-model", "http://127.0.0.1:9/v1")
    with pytest.raises(TeacherUnreachableError):
        generate(SMALL_SEEDS, other, tmp_path / "out.json", CONFIG)


def test_persistent_failure_keeps_what_was_generated(
    teacher: LoopbackTeacher, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    run(teacher, out, GenerationConfig(num=10, batch_size=2))
    teacher.knobs.statuses.extend([503] * 20)
    with pytest.raises(
        TeacherUnreachableError, match="failed 3 times in a row: it answered HTTP 503"
    ):
        run(teacher, out, GenerationConfig(num=30, batch_size=2), retries=2)
    kept = records(out)
    assert len(kept) >= 10
    teacher.knobs.statuses.clear()
    assert run(teacher, out, GenerationConfig(num=30, batch_size=2)).records == 30
    assert records(out)[: len(kept)] == kept


@pytest.mark.parametrize(
    ("garbage", "error", "message"),
    [
        ("html", TeacherReplyError, "not JSON: '<html>"),
        ("json", TeacherReplyError, "not an OpenAI-compatible completion"),
        ("prose", TeacherReplyError, "last 3 replies held no task .* 'I would rather talk"),
    ],
)
def test_garbage_answers(teacher: LoopbackTeacher, tmp_path: Path, garbage, error, message) -> None:  # type: ignore[no-untyped-def]
    teacher.knobs.garbage = garbage
    config = GenerationConfig(num=5, batch_size=3, max_failed_replies=3)
    with pytest.raises(error, match=message) as caught:
        run(teacher, tmp_path / "out.json", config)
    assert caught.value.hint
    assert records(tmp_path / "out.json") == []


def test_refused_key(teacher: LoopbackTeacher, tmp_path: Path) -> None:
    teacher.knobs.api_key = "sk-right"
    with pytest.raises(TeacherError, match=r"HTTP 401.*Incorrect API key") as caught:
        run(teacher, tmp_path / "out.json", api_key="sk-wrong")
    assert "OPENAI_API_KEY" in caught.value.hint
    assert run(teacher, tmp_path / "out.json", api_key="sk-right").records == 40


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def get(self, base_url: str) -> str | None:
        return self.keys.get(base_url)

    def set(self, base_url: str, key: str) -> bool:
        self.keys[base_url] = key.strip()
        return True


def test_command_line_keys_and_messages(
    teacher: LoopbackTeacher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeds = write_seeds(tmp_path / "seeds.jsonl", SMALL_SEEDS)
    out = tmp_path / "data.json"
    teacher.knobs.api_key = "sk-keychain"
    keys = MemoryKeys()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("sk-keychain\n"))
    base = ["--base-url", teacher.url]
    assert cli_generate.cli.main([*base, "--store-key"], keys=keys) == 0
    assert keys.keys == {teacher.url: "sk-keychain"}
    args = [*base, "--seed-tasks", str(seeds), "--out", str(out), "--teacher", "openai:m"]
    assert cli_generate.cli.main([*args, "--num", "12"], keys=keys) == 0
    assert len(records(out)) == 12
    assert "Wrote 12 records" in capsys.readouterr().out
    # The environment wins over the keychain.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    assert cli_generate.cli.main([*args, "--num", "20"], keys=keys) == 1
    assert "HTTP 401" in capsys.readouterr().err
    # Other settings than the run was started with: one clear line, nothing lost.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-keychain")
    before = out.read_bytes()
    assert cli_generate.cli.main([*args, "--num", "20", "--temperature", "0.5"], keys=keys) == 1
    err = capsys.readouterr().err
    assert "started with other settings: temperature was 1.0, now 0.5" in err
    assert out.read_bytes() == before
    # A malformed seed file and a bad teacher spec.
    seeds.write_text(seeds.read_text() + "{oops\n", encoding="utf-8")
    assert cli_generate.cli.main(args, keys=keys) == 1
    assert f"Line 7 of “{seeds}” is not valid JSON" in capsys.readouterr().err
    assert cli_generate.cli.main([*args[:-1], "gpt-4"], keys=keys) == 1
    assert "“gpt-4” is not a teacher" in capsys.readouterr().err
    assert len(load_seed_tasks(write_seeds(seeds, SMALL_SEEDS))) == 6


def test_api_keys_live_in_the_keychain_by_base_url() -> None:
    from keyring import get_keyring, set_keyring

    from desktop.core import secrets
    from tests.core.test_models import MemoryKeyring

    previous, backend = get_keyring(), MemoryKeyring()
    set_keyring(backend)
    try:
        keys = secrets.ApiKeys()
        assert keys.set("http://127.0.0.1:8000/v1/", " sk-local\n") is True
        assert keys.get("http://127.0.0.1:8000/v1") == "sk-local"
        assert keys.get("https://api.openai.com/v1") is None
        assert backend.store == {(secrets.SERVICE, "api-key:http://127.0.0.1:8000/v1"): "sk-local"}
        assert secrets.get_token() is None  # the Hugging Face token is another secret
    finally:
        set_keyring(previous)
