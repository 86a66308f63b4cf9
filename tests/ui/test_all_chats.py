"""Every chat out at once and back in, through the window as a person does it: File → Export all
chats…, the format, the file dialog, the result; File → Import chats… into a fresh data folder;
a broken file refused; a large export cancelled. The engine is QuickEngine (no llama.cpp): what
is tested here is the history, not answers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton

from desktop.core.history import all_chats
from desktop.core.history.store import History, NewMessage
from desktop.ui.background import engine_thread
from desktop.ui.chat.transfers import TransferDialog
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import open_window
from tests.ui.person import click, dialog_named, from_menu, pick_file, status_line
from tests.ui.quick_engine import QuickEngine

WAIT_MS = 30_000
CHATS = {
    "Alpacas 🦙 / llamas": ["Where do alpacas live?", "In the Andes."],
    "Über Käse": ["Welcher Käse ist mild?", "Butterkäse."],
}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_thread, "ChatEngine", QuickEngine)


def make_chats(chats: dict[str, list[str]], many: int = 0) -> None:
    history = History()
    for title, (question, answer) in chats.items():
        chat = history.create(title=title)
        history.add_message(chat.id, "user", question)
        history.add_message(chat.id, "assistant", answer)
    for n in range(many):
        history.add_conversation(
            title=f"Chat {n}",
            model="",
            system_prompt="",
            settings={},
            created_at=1_700_000_000 + n,
            messages=[NewMessage("user", f"Question {n}"), NewMessage("assistant", "Answer")],
        )
    history.close()


def sidebar_titles(window: MainWindow) -> list[str]:
    chats = window.sidebar.list
    return [chats.item(i).toolTip() for i in range(chats.count())]


def button(dialog, text: str) -> QPushButton:  # type: ignore[no-untyped-def]
    found = [b for b in dialog.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert found, f"no “{text}” button in {[b.text() for b in dialog.findChildren(QPushButton)]}"
    return found[0]


def export_dialog(qtbot, window: MainWindow) -> TransferDialog:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "File", "Export all chats…")
    dialog = dialog_named(qtbot, "chatsTransferDialog")
    assert isinstance(dialog, TransferDialog)
    return dialog


def closed(dialog) -> bool:  # type: ignore[no-untyped-def]
    """Closed (and so deleted) or hidden."""
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def squeezed(dialog: TransferDialog) -> list[str]:
    """Labels shown shorter than their wrapped text needs (cut off at the top or bottom)."""
    labels = [w for w in dialog.findChildren(QLabel) if w.isVisible() and w.text()]
    return [w.text() for w in labels if w.height() < w.heightForWidth(w.width())]


def wait_for_result(qtbot, dialog: TransferDialog) -> str:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: dialog.stop.text() == "Close", timeout=WAIT_MS)
    return dialog.status.text()


def error_text(qtbot) -> str:  # type: ignore[no-untyped-def]
    def boxes() -> list[QMessageBox]:
        return [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
        ]

    qtbot.waitUntil(lambda: bool(boxes()), timeout=WAIT_MS)
    box = boxes()[-1]
    text = f"{box.text()} {box.informativeText()}"
    click(box.button(QMessageBox.StandardButton.Ok))
    return text


def test_export_all_to_json_then_import_into_a_fresh_data_folder(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_chats(CHATS)
    window = open_window(qtbot)
    dialog = export_dialog(qtbot, window)
    assert "2 chats" in dialog.intro.text() and dialog.as_json.isChecked()
    click(button(dialog, "Export…"))
    pick_file(qtbot, tmp_path / "all.json")
    assert wait_for_result(qtbot, dialog) == "Exported 2 chats to “all.json”:"
    assert dialog.location.text() == str(tmp_path / "all.json")  # the whole path, to copy
    assert json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["count"] == 2
    click(button(dialog, "Close"))
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT_MS)
    window.close()

    monkeypatch.setenv("HUACAYA_HOME", str(tmp_path / "fresh-home"))
    fresh = open_window(qtbot)
    assert sidebar_titles(fresh) == []
    from_menu(qtbot, fresh, "File", "Import chats…")
    pick_file(qtbot, tmp_path / "all.json")
    result = dialog_named(qtbot, "chatsTransferDialog")
    assert isinstance(result, TransferDialog)
    assert wait_for_result(qtbot, result) == "2 chats imported."
    click(button(result, "Close"))
    assert sorted(sidebar_titles(fresh)) == sorted(CHATS)
    chats = fresh.sidebar.list
    for row in range(chats.count()):
        click(chats.viewport(), chats.visualItemRect(chats.item(row)).center())
        shown = fresh.chat_view.plain_text()
        assert all(text in shown for text in CHATS[chats.item(row).toolTip()])

    # the same file again: nothing is duplicated, and the person is told
    click(fresh.sidebar.import_button)
    pick_file(qtbot, tmp_path / "all.json")
    again = dialog_named(qtbot, "chatsTransferDialog")
    assert wait_for_result(qtbot, again) == "0 chats imported, 2 already here."  # type: ignore[arg-type]
    click(button(again, "Close"))
    assert len(sidebar_titles(fresh)) == 2
    fresh.close()


def test_export_all_as_markdown_asks_before_using_a_folder_with_files(
    qtbot, tmp_path: Path
) -> None:
    make_chats(CHATS)
    window = open_window(qtbot)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("my own notes", encoding="utf-8")

    dialog = export_dialog(qtbot, window)
    click(dialog.as_markdown)
    click(button(dialog, "Export…"))
    pick_file(qtbot, folder)
    question = dialog_named(qtbot, "folderNotEmptyDialog")
    click(question.button(QMessageBox.StandardButton.No))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: closed(question), timeout=WAIT_MS)
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]  # nothing written

    click(button(dialog, "Export…"))
    pick_file(qtbot, folder)
    question = dialog_named(qtbot, "folderNotEmptyDialog")
    click(question.button(QMessageBox.StandardButton.Yes))  # type: ignore[attr-defined]
    assert "Exported 2 chats" in wait_for_result(qtbot, dialog)
    assert sorted(p.name for p in folder.iterdir()) == [
        "Alpacas 🦙 llamas.md",
        "index.md",
        "mine.txt",
        "Über Käse.md",
    ]
    assert (folder / "mine.txt").read_text(encoding="utf-8") == "my own notes"
    assert button(dialog, "Show in folder").isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT_MS)
    window.close()


def test_a_broken_file_is_refused_in_one_line_and_no_chat_is_added(qtbot, tmp_path: Path) -> None:
    make_chats(CHATS)
    history = History()
    all_chats.export_all_json(history, tmp_path / "all.json")
    history.close()
    data = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    data["conversations"][1]["messages"][1]["role"] = "robot"
    (tmp_path / "broken.json").write_text(json.dumps(data), encoding="utf-8")

    window = open_window(qtbot)
    before = sidebar_titles(window)
    from_menu(qtbot, window, "File", "Import chats…")
    pick_file(qtbot, tmp_path / "broken.json")
    text = error_text(qtbot)
    assert "Chat 2 of 2" in text and "messages[1].role" in text and "Nothing was imported" in text
    assert sidebar_titles(window) == before
    assert len(window.history.list()) == 2
    window.close()


def test_cancelling_a_large_export_leaves_no_file(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_chats({}, many=2_000)
    reached, release = threading.Event(), threading.Event()
    real = all_chats.export_json

    def slow_at_the_tenth(history, chat_id):  # type: ignore[no-untyped-def]
        """The export is half-way when the person clicks Cancel (without this the machine may
        finish first)."""
        if chat_id == 10:
            reached.set()
            release.wait(WAIT_MS / 1000)
        return real(history, chat_id)

    monkeypatch.setattr(all_chats, "export_json", slow_at_the_tenth)
    window = open_window(qtbot)
    window.store.update(font_size=16)  # the dialog's lines wrap, and it grows as parts appear
    qtbot.wait(50)  # as test_screen_fit: the change reaches every widget and the menu bar
    dialog = export_dialog(qtbot, window)
    assert "2,000 chats" in dialog.intro.text()
    click(button(dialog, "Export…"))
    pick_file(qtbot, tmp_path / "all.json")
    qtbot.waitUntil(reached.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=WAIT_MS)
    assert not squeezed(dialog)
    assert not window.menu_actions.export_all.isEnabled()  # one at a time
    import_button = window.sidebar.import_button
    assert (import_button.isEnabled(), import_button.text()) == (False, "Import…")
    click(button(dialog, "Cancel"))
    release.set()
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT_MS)
    assert "Export cancelled" in status_line(window)
    assert list(tmp_path.iterdir()) == [tmp_path / "huacaya-home"]  # no file, no partial one
    assert window.menu_actions.export_all.isEnabled()
    window.close()
