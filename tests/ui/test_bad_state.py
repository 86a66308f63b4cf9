"""Bad chat exports and damaged stored state, met through the window: each export is refused in
one line naming the problem (or imported safely), and the window starts again afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.core.history.store import History
from desktop.core.settings import SettingsStore
from desktop.ui.main_window import MainWindow
from tests.malformed_exports import MALFORMED
from tests.ui.conftest import import_chat, open_window
from tests.ui.person import click


def error_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
    ]


def error_box(qtbot) -> QMessageBox:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: bool(error_boxes()), timeout=10_000)
    return error_boxes()[-1]


def test_every_malformed_export_is_refused_in_one_line_and_the_window_starts_again(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    assert len([words for _, words in MALFORMED.values() if words]) >= 21
    for number, (name, (data, words)) in enumerate(MALFORMED.items()):
        path = tmp_path / f"export-{number}.json"
        path.write_bytes(data)
        before = len(window.history.list())
        import_chat(qtbot, window, path)
        if words is None:  # imported, and opened
            assert len(window.history.list()) == before + 1, name
            assert window.conversation.conversation_id == window.history.list()[0].id
            continue
        box = error_box(qtbot)
        assert words in f"{box.text()} {box.informativeText()}", name
        assert "\n" not in box.text() and "Traceback" not in box.text(), name
        assert len(window.history.list()) == before, name  # nothing was written
        click(box.button(QMessageBox.StandardButton.Ok))
        qtbot.waitUntil(lambda: not error_boxes(), timeout=5_000)
    imported = window.conversation.conversation_id
    window.close()

    again = open_window(qtbot)
    assert again.conversation.conversation_id == imported  # reopened, as the last chat
    assert [m.content for m in again.history.messages(imported)] == ["a\x00b"]
    again.close()


def test_the_window_starts_when_stored_chats_and_settings_are_damaged(
    qtbot, huacaya_home: Path
) -> None:
    """As an older version could leave them: a chat whose settings are a string, whose
    generation settings overflow, whose message stats are a list or not JSON at all."""
    history = History()
    chats = [history.create(title=f"chat {i}") for i in range(3)]
    for chat in chats:
        history.add_message(chat.id, "user", "hello")
        history.add_message(chat.id, "assistant", "hi")
    damage = [
        ("UPDATE conversations SET settings = ? WHERE id = ?", '"abc"', chats[0].id),
        ("UPDATE conversations SET settings = ? WHERE id = ?", "{not json", chats[1].id),
        (
            "UPDATE conversations SET settings = ? WHERE id = ?",
            '{"generation": {"max_tokens": Infinity, "temperature": NaN, "seed": 1e30}}',
            chats[2].id,
        ),
        ("UPDATE messages SET stats = ? WHERE conversation_id = ?", "[1, 2]", chats[0].id),
        ("UPDATE messages SET stats = ? WHERE conversation_id = ?", "{oops", chats[2].id),
    ]
    for sql, value, row in damage:
        history.db.execute(sql, (value, row))
    history.close()
    settings_file = huacaya_home / "config" / "settings.json"
    for chat in chats:
        SettingsStore(settings_file).update(last_conversation=chat.id)
        main = open_window(qtbot)
        assert main.conversation.conversation_id == chat.id
        assert "hello" in main.chat_view.plain_text()
        main.close()
    raw = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**raw, "last_conversation": "x", "font_size": [1]}))
    main = open_window(qtbot)
    assert main.isVisible()
    main.close()
