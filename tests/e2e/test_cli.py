"""The huacaya command, run as a user runs it (a real process, the real starter model)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import __version__
from desktop.cli.chat import TerminalChat
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import History
from tests.conftest import COUNT, greedy
from tests.helpers import (
    greedy_by_default,
    text_file_named_gguf,
    truncated_copy,
    with_architecture,
)
from tests.scoring import Reference

ROOT = Path(__file__).resolve().parents[2]


def huacaya(
    *args: str, home: Path, stdin: str = "", display: bool = False, timeout: int = 180
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}
    }
    env["HUACAYA_HOME"] = str(home)
    if display:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def test_one_question_streams_the_answer_and_exits(
    huacaya_home: Path, count_reference: Reference
) -> None:
    greedy_by_default(huacaya_home)
    result = huacaya("chat", COUNT, home=huacaya_home)
    assert result.returncode == 0, result.stderr
    count_reference.assert_matches(result.stdout)  # the model's own answer, on stdout


def test_piped_lines_are_questions_of_one_conversation(
    huacaya_home: Path, count_reference: Reference
) -> None:
    greedy_by_default(huacaya_home)
    result = huacaya(
        "chat",
        "--max-tokens",
        "48",
        "--stats",
        home=huacaya_home,
        stdin=f"{COUNT}\n\nWhat did I just ask you?\n",
    )
    assert result.returncode == 0, result.stderr
    first_answer = result.stdout.split("\n")[0]
    count_reference.assert_matches(first_answer)
    stats = [line for line in result.stderr.splitlines() if "tok/s" in line]
    assert len(stats) == 2  # the empty line was not a question
    second_prompt = int(stats[1].split("prompt ")[1].split()[0])
    first_prompt = int(stats[0].split("prompt ")[1].split()[0])
    assert second_prompt > first_prompt + 10  # the first turn is part of the second prompt


def test_terminal_chat_keeps_the_conversation_and_reuses_the_cache(
    engine: ChatEngine, count_reference: Reference
) -> None:
    out, err = io.StringIO(), io.StringIO()
    chat = TerminalChat(engine, ChatSession(None, lambda model: greedy(48)), out=out, err=err)
    chat.run_script(io.StringIO(f"{COUNT}\nAnd from 6 to 9?\n"))
    messages = [{"role": m.role, "content": m.content} for m in chat.session.messages]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    # what was shown is what was kept, and the first answer is the model's own
    assert out.getvalue() == f"{messages[1]['content']}\n{messages[3]['content']}\n"
    count_reference.assert_matches(messages[1]["content"])
    stats = chat.session.messages[-1].stats
    assert stats["evaluated_prompt_tokens"] < stats["prompt_tokens"] / 2


def test_ctrl_c_stops_the_answer_and_the_session_goes_on(
    engine: ChatEngine, count_reference: Reference
) -> None:
    class InterruptAfterFewWrites(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            if self.writes == 4:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl+C sends
            return super().write(text)

    before = signal.getsignal(signal.SIGINT)  # ignored when the suite runs in the background
    out, err = InterruptAfterFewWrites(), io.StringIO()
    chat = TerminalChat(engine, ChatSession(None, lambda model: greedy(400)), out=out, err=err)
    chat.ask("Write a very long story about a dragon who bakes bread.")
    assert "[stopped]" in err.getvalue()
    assert chat.session.messages[1].stats["generated_tokens"] < 20
    chat.session.generation = greedy(64)
    count_reference.assert_matches(chat.ask(COUNT))
    assert chat.session.messages[-1].stats["finish_reason"] == "stop"
    stopped = chat.session.messages[1]
    assert stopped.stats["finish_reason"] == "cancelled" and stopped.note == "(stopped)"
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_without_a_display_the_default_command_opens_the_terminal_chat(huacaya_home: Path):
    result = huacaya(home=huacaya_home, stdin=f"{COUNT}\n")
    assert result.returncode == 0, result.stderr
    assert "no display" in result.stderr
    assert "terminal chat" in result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "architecture"])
def test_bad_model_file_is_one_line_on_stderr_and_nonzero_exit(
    kind: str, huacaya_home: Path, tmp_path: Path, starter_path: Path
) -> None:
    path = tmp_path / "bad.gguf"
    if kind == "text":
        text_file_named_gguf(path)
    elif kind == "truncated":
        truncated_copy(starter_path, path)
    elif kind == "architecture":
        with_architecture(starter_path, path, b"llamx")
    result = huacaya("chat", "--model", str(path), "Hello?", home=huacaya_home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("huacaya: error:")
    assert "bad.gguf" in lines[0]
    assert result.stdout == ""


def test_unknown_model_name(huacaya_home: Path) -> None:
    result = huacaya("chat", "--model", "llama-9000", "Hi", home=huacaya_home)
    assert result.returncode == 1
    assert "No model called “llama-9000”" in result.stderr
    assert "huacaya models list" in result.stderr


def test_version_and_models_list(huacaya_home: Path) -> None:
    version = huacaya("--version", home=huacaya_home)
    assert version.returncode == 0 and version.stdout.strip() == f"huacaya {__version__}"
    listing = huacaya("models", "list", home=huacaya_home)
    assert listing.returncode == 0
    assert "smollm2-135m-instruct" in listing.stdout and "Q4_1" in listing.stdout


def test_self_test_passes(huacaya_home: Path) -> None:
    result = huacaya("--self-test", home=huacaya_home, display=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test: passed" in result.stdout
    assert "main window opened" in result.stdout
    assert "window shown" in result.stdout  # not swallowed while the model loads


def test_models_pull_list_chat_and_remove_through_the_loopback_hub(
    huacaya_home: Path, hub_endpoint
) -> None:  # type: ignore[no-untyped-def]
    pulled = huacaya(
        "models",
        "pull",
        "test-org/smollm2-gguf",
        "--file",
        "smollm2.Q4_1.gguf",
        "--quant",
        "none",
        "--name",
        "Loopback Smol",
        home=huacaya_home,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert "offline mode is now off" in pulled.stderr
    assert "Installed “Loopback Smol” as loopback-smol" in pulled.stdout
    listing = huacaya("models", "list", home=huacaya_home)
    assert "loopback-smol" in listing.stdout and "Q4_1" in listing.stdout
    # the pulled file is the starter model's, so it answers exactly as the starter does
    greedy_by_default(huacaya_home)
    answers = [
        huacaya("chat", *model, COUNT, home=huacaya_home) for model in ([], ["-m", "loopback-smol"])
    ]
    assert [a.returncode for a in answers] == [0, 0], answers[1].stderr
    assert answers[1].stdout == answers[0].stdout
    removed = huacaya("models", "rm", "loopback-smol", home=huacaya_home)
    assert removed.returncode == 0
    assert "loopback-smol" not in huacaya("models", "list", home=huacaya_home).stdout
    refused = huacaya("models", "rm", "smollm2-135m-instruct", home=huacaya_home)
    assert refused.returncode == 1 and "cannot be removed" in refused.stderr


def test_terminal_chats_are_saved_unless_asked_not_to(huacaya_home: Path) -> None:
    greedy_by_default(huacaya_home)
    saved = huacaya(
        "chat", "--max-tokens", "8", home=huacaya_home, stdin="Name a fruit.\nAnother?\n"
    )
    assert saved.returncode == 0, saved.stderr
    history = History()
    try:
        (conversation,) = history.list()
        messages = history.messages(conversation.id)
        assert conversation.title == "Name a fruit."
        assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
        assert [m.content for m in messages[1::2]] == saved.stdout.strip("\n").split("\n")
        unsaved = huacaya("chat", "--no-save", "Not for the record.", home=huacaya_home)
        assert unsaved.returncode == 0, unsaved.stderr
        assert [c.id for c in history.list()] == [conversation.id]
    finally:
        history.close()
