"""A saved chat's settings that this version cannot honour are replaced, not failed on."""

from __future__ import annotations

from pathlib import Path

from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.chat.session import ChatSession
from desktop.core.history.store import History


def test_an_unknown_prompt_format_falls_back_to_the_models_own(tmp_path: Path) -> None:
    history = History(tmp_path / "history.sqlite3")
    try:
        for saved, used in (("bogus", "auto"), (["chatml"], "auto"), ("chatml", "chatml")):
            chat = history.add_conversation(
                title="t",
                model="m",
                system_prompt="",
                settings={"prompt_format": saved},
                created_at=1.0,
                messages=[],
            )
            session = ChatSession(history)
            session.open(chat.id)
            assert session.prompt_format == used
            assert session.ask("Hello").prompt_format in FORMAT_CHOICES
            session.fail()
    finally:
        history.close()
