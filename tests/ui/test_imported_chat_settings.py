"""An imported chat whose settings this app cannot honour (a prompt format it does not know, a
document collection that does not exist here) is answered, not failed at every question."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.ui.main_window import MainWindow
from tests.ui.conftest import ask
from tests.ui.person import click, pick_file

EXPORT = {
    "format": "huacaya-conversation",
    "version": 1,
    "title": "Imported",
    "model": "elsewhere",
    "settings": {"prompt_format": "mistral-v7-tekken", "collections": ["gone", "also gone"]},
    "messages": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
    ],
}


def _error_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
    ]


def test_an_imported_chat_with_settings_unknown_here_is_answered(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(EXPORT), encoding="utf-8")
    click(window.sidebar.import_button)
    pick_file(qtbot, path)
    qtbot.waitUntil(lambda: window.conversation.session.messages != [], timeout=10_000)
    for _ in range(2):  # every question, not only the first
        answer = ask(qtbot, window, "What is 2 + 2?")
        assert answer.strip()
        assert not _error_boxes()
    session = window.conversation.session
    assert session.prompt_format == "auto" and session.collections == []
    assert "no longer exists" in window.statusBar().currentMessage()
    saved = window.history.get(session.conversation_id)  # type: ignore[arg-type]
    assert saved.settings.get("collections", []) == []
