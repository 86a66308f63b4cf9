"""Conversations in the window, used with the mouse and keyboard: kept and reopened, found,
renamed, exported and imported, deleted and undone, regenerated, edited, and the settings and
themes a person changes (pytest-qt, the real starter model)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.core.chat.markdown import DARK, LIGHT, Palette
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT
from tests.scoring import Reference
from tests.ui.conftest import ANSWER_MS, LOAD_MS, ask, import_chat, open_window
from tests.ui.person import (
    choose,
    choose_in_combo,
    click,
    click_link,
    dialog_named,
    from_menu,
    pick_file,
    right_click,
    status_line,
    toggle,
    type_into_dialog,
)


def sidebar_titles(window: MainWindow) -> list[str]:
    items = [window.sidebar.list.item(i) for i in range(window.sidebar.list.count())]
    return [item.toolTip() for item in items]


def chat_menu(window: MainWindow, row: int = 0):  # type: ignore[no-untyped-def]
    """Right-click the chat on ``row`` of the sidebar."""
    chats = window.sidebar.list
    return right_click(chats.viewport(), chats.visualItemRect(chats.item(row)).center())


def link(window: MainWindow, action: str, message_index: int) -> str:
    return f"action:{action}:{window.messages[message_index].key}"


def test_a_question_creates_a_titled_conversation_that_survives_restart(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    answer = ask(qtbot, window, COUNT)
    assert sidebar_titles(window) == [COUNT]
    stored = window.history.messages(window.conversation.conversation_id)
    assert [(m.role, m.content) for m in stored] == [("user", COUNT), ("assistant", answer.strip())]
    assert stored[1].stats["generated_tokens"] > 0
    count_reference.assert_matches(stored[1].content)
    for turn in range(6):  # enough to scroll
        window.conversation.session.generation.max_tokens = 40
        ask(qtbot, window, f"Tell me about animal number {turn}.")
    window.resize(760, 540)  # within the offscreen screen (800×600): restore keeps it on screen
    window.splitter.setSizes([300, 460])
    size, sizes = window.size(), window.splitter.sizes()
    row_height = window.sidebar.list.visualItemRect(window.sidebar.list.item(0)).height()
    window.close()

    again = open_window(qtbot)
    assert again.size() == size
    assert again.splitter.sizes() == sizes
    assert sidebar_titles(again) == [COUNT]
    assert again.sidebar.list.visualItemRect(again.sidebar.list.item(0)).height() == row_height
    assert again.conversation.conversation_id == stored[0].conversation_id  # last chat reopened
    assert stored[1].content in again.chat_view.plain_text()
    bar = again.chat_view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # at the latest message
    again.close()


def test_rename_export_import_and_delete_with_undo_from_the_chat_menu(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    ask(qtbot, window, "Write a Python function that adds two numbers.")
    original = window.conversation.conversation_id

    choose(qtbot, chat_menu(window), "Rename…")
    dialog = dialog_named(qtbot, "renameDialog")
    assert dialog.minimumWidth() >= dialog.fontMetrics().horizontalAdvance("Rename chat") + 100
    type_into_dialog(qtbot, "renameDialog", "Adding numbers")
    assert sidebar_titles(window) == ["Adding numbers"]

    choose(qtbot, chat_menu(window), "Export as JSON…")
    pick_file(qtbot, tmp_path / "chat.json")
    choose(qtbot, chat_menu(window), "Export as Markdown…")
    pick_file(qtbot, tmp_path / "chat.md")
    assert (tmp_path / "chat.md").read_text(encoding="utf-8").startswith("# Adding numbers")
    assert json.loads((tmp_path / "chat.json").read_text(encoding="utf-8"))["title"] == (
        "Adding numbers"
    )

    import_chat(qtbot, window, tmp_path / "chat.json")  # the same chat: not added twice
    assert len(sidebar_titles(window)) == 1
    assert status_line(window) == "“Adding numbers” is already here."
    assert window.conversation.conversation_id == original
    export = json.loads((tmp_path / "chat.json").read_text(encoding="utf-8"))
    export["messages"].append({"role": "user", "content": "And three numbers?"})
    (tmp_path / "longer.json").write_text(json.dumps(export), encoding="utf-8")
    import_chat(qtbot, window, tmp_path / "longer.json")  # a chat that went on: a new one
    imported = window.conversation.conversation_id
    assert imported != original
    assert status_line(window) == "Imported “Adding numbers”."
    strip = lambda ms: [(m.role, m.content, m.model) for m in ms]  # noqa: E731
    assert strip(window.history.messages(imported))[:2] == strip(window.history.messages(original))
    assert len(sidebar_titles(window)) == 2

    choose(qtbot, chat_menu(window, 0), "Delete")
    assert window.sidebar.undo_bar.isVisible()
    assert len(sidebar_titles(window)) == 1
    assert window.conversation.conversation_id is None  # the open chat was the deleted one
    click(window.sidebar.undo_button)
    assert len(sidebar_titles(window)) == 2
    assert not window.sidebar.undo_bar.isVisible()
    choose(qtbot, chat_menu(window, 0), "Delete")
    window.sidebar.forget_deleted()  # what the timer does after a few seconds
    assert len(window.history.list()) == 1

    (tmp_path / "bad.json").write_text(json.dumps({"hello": "world"}))
    import_chat(qtbot, window, tmp_path / "bad.json")
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "not a Huacaya conversation" in box.text()


def test_search_one_row_per_chat_highlighted_without_markdown_and_esc_clears(
    qtbot, window: MainWindow
) -> None:
    window.conversation.session.configure(system_prompt="Answer in **bold** markdown.")
    ask(qtbot, window, "Name a colour of the rainbow.")
    ask(qtbot, window, "Another colour of the rainbow?")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat_view.entries == [] and window.conversation.conversation_id is None
    ask(qtbot, window, "Say something about **rainbows** in markdown.")
    assert len(sidebar_titles(window)) == 2

    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.sidebar.search.hasFocus()
    qtbot.keyClicks(window.sidebar.search, "rainbow")
    qtbot.waitUntil(lambda: window.sidebar.searching, timeout=5_000)
    texts = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
    assert len(texts) == 2  # one row per chat, though three messages match
    snippets = [t.split("<small>")[1] for t in texts]
    assert all("<b>rainbow" in s.lower() for s in snippets)
    assert not any("**" in s for s in snippets)  # snippets show text, not Markdown
    click(
        window.sidebar.list.viewport(),
        window.sidebar.list.visualItemRect(window.sidebar.list.item(1)).center(),
    )
    assert "rainbow" in window.chat_view.plain_text().lower()
    qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Escape)
    assert window.sidebar.search.text() == ""
    qtbot.waitUntil(lambda: not window.sidebar.searching, timeout=5_000)


def test_regenerate_and_edit_by_clicking_keep_the_right_messages(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:
    ask(qtbot, window, COUNT)
    window.conversation.session.generation.max_tokens = 12
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        click_link(window.chat_view, link(window, "regenerate", 1))
    stored = window.history.messages(window.conversation.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].stats["generated_tokens"] <= 12
    assert len(window.chat_view.entries) == 2

    window.conversation.session.generation.max_tokens = 64
    ask(qtbot, window, "Name another one.")
    click_link(window.chat_view, link(window, "edit", 0))
    assert window.composer.toPlainText() == COUNT
    assert "Editing a question" in status_line(window)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert "Editing" not in status_line(window)  # the edit notice does not linger
    stored = window.history.messages(window.conversation.conversation_id)
    assert (stored[0].role, stored[0].content) == ("user", COUNT)
    assert len(stored) == 2  # the later turns were replaced
    count_reference.assert_matches(stored[1].content)
    qtbot.keyClick(window.composer, Qt.Key.Key_Up)  # Up in an empty box edits the last question
    assert window.composer.toPlainText() == COUNT
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    assert window.composer.toPlainText() == ""


def test_a_system_message_from_an_import_does_not_shift_edit_or_regenerate(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    export = {
        "format": "huacaya-conversation",
        "version": 1,
        "title": "Imported",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
        ],
    }
    (tmp_path / "chat.json").write_text(json.dumps(export))
    import_chat(qtbot, window, tmp_path / "chat.json")
    assert [m.role for m in window.messages] == ["system", "user", "assistant"]
    click_link(window.chat_view, link(window, "edit", 1))
    assert window.composer.toPlainText() == "First question"  # not the system message
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    window.conversation.session.generation.max_tokens = 8
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        click_link(window.chat_view, link(window, "regenerate", 2))
    stored = window.history.messages(window.conversation.conversation_id)
    assert [(m.role, m.content) for m in stored[:2]] == [
        ("system", "You are terse."),
        ("user", "First question"),  # the question stays; only the answer was replaced
    ]
    assert [m.role for m in stored] == ["system", "user", "assistant"]
    assert stored[2].stats["generated_tokens"] > 0  # a new answer, from the model


def test_copy_links_put_text_on_the_clipboard_and_say_so(qtbot, window: MainWindow) -> None:
    ask(qtbot, window, "Write a Python function that adds two numbers.")
    click_link(window.chat_view, link(window, "copy", 0))
    assert QApplication.clipboard().text() == "Write a Python function that adds two numbers."
    assert "Copied" in window.statusBar().currentMessage()
    answer = window.messages[1]
    if "```" in answer.content:  # the starter model usually answers with a code block
        click_link(window.chat_view, f"copy-code:{answer.key}:0")
        assert QApplication.clipboard().text() in answer.content


def test_settings_from_the_keyboard_change_this_chat_and_model_defaults(
    qtbot, window: MainWindow
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = dialog_named(qtbot, "settingsDialog")
    click(dialog.system_prompt)
    qtbot.keyClicks(dialog.system_prompt, "Answer in one word.")
    dialog.sampling["max_tokens"].selectAll()
    qtbot.keyClicks(dialog.sampling["max_tokens"], "16")
    toggle(dialog.save_as_default)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # OK is the default button
    assert window.conversation.session.system_prompt == "Answer in one word."
    assert window.conversation.session.generation.max_tokens == 16
    model_id = window.model_entry.id
    assert window.settings.model_defaults[model_id]["max_tokens"] == 16
    ask(qtbot, window, COUNT)
    conversation = window.history.get(window.conversation.conversation_id)
    assert conversation.system_prompt == "Answer in one word."
    assert conversation.settings["generation"]["max_tokens"] == 16


def contrast(foreground: QPalette.ColorRole, background: QPalette.ColorRole, widget) -> float:  # type: ignore[no-untyped-def]
    def luminance(role: QPalette.ColorRole) -> float:
        color = widget.palette().color(role)
        channels = [c / 255 for c in (color.red(), color.green(), color.blue())]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rendered_colours(window: MainWindow) -> tuple[str, set[str]]:
    """What the transcript drew: the question's background and the links' colours."""
    question = next(e for e in window.chat_view.entries if e.role == "user")
    background = question.frame.frameFormat().background().color().name()
    links = set()
    block = window.chat_view.document().begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().anchorHref().startswith("action:"):
                links.add(fragment.charFormat().foreground().color().name())
            fragments += 1
        block = block.next()
    return background, links


def readable_everywhere(window: MainWindow, theme: Palette) -> None:
    background, links = rendered_colours(window)  # re-rendered for this theme, not the last
    assert background == ("#2b3340" if theme is DARK else "#eef2f8")
    assert links == {theme.link}
    text, base = QPalette.ColorRole.Text, QPalette.ColorRole.Base
    window_text, background = QPalette.ColorRole.WindowText, QPalette.ColorRole.Window
    for widget in (window.chat_view, window.sidebar.list, window.composer):
        assert contrast(text, base, widget) >= 4.5, widget.objectName()
    for widget in (window.status_label, window.stats_label, window.menuBar()):
        assert contrast(window_text, background, widget) >= 4.5, widget.objectName()


def choose_theme(qtbot, window: MainWindow, theme: str, font_size: int = 0) -> None:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "Edit", "Settings…")
    dialog = dialog_named(qtbot, "settingsDialog")
    tabs = dialog.findChild(type(dialog.tabs), "settingsTabs")
    click(tabs.tabBar(), tabs.tabBar().tabRect(1).center())
    choose_in_combo(qtbot, dialog.theme, theme)
    if font_size:
        dialog.font_size.selectAll()
        qtbot.keyClicks(dialog.font_size, str(font_size))
    click(dialog.ok_button)


def test_themes_and_font_size_apply_at_once_everywhere_and_after_a_restart(
    qtbot, window: MainWindow
) -> None:
    ask(qtbot, window, "Write a Python function that adds two numbers.")
    choose_theme(qtbot, window, "dark", font_size=15)
    assert window.chat_view.palette_for_markdown() is DARK  # the transcript follows at once
    assert window.palette().color(QPalette.ColorRole.Window).lightness() < 80
    readable_everywhere(window, DARK)
    document_font = window.chat_view.document().defaultFont()
    assert document_font.pointSize() == 15  # the font size reaches the transcript
    assert QFont(window.sidebar.list.font()).pointSize() == 15

    choose_theme(qtbot, window, "light")
    assert window.chat_view.palette_for_markdown() is LIGHT
    assert window.palette().color(QPalette.ColorRole.Window).lightness() > 180
    readable_everywhere(window, LIGHT)
    choose_theme(qtbot, window, "dark")
    window.close()

    again = open_window(qtbot)
    assert again.chat_view.palette_for_markdown() is DARK
    readable_everywhere(again, DARK)
    assert again.chat_view.document().defaultFont().pointSize() == 15
    again.close()


def test_long_conversation_in_a_small_context_shows_the_notice(qtbot, window: MainWindow) -> None:
    window.store.update(context_length=512)  # as Settings → App does; the model reloads
    qtbot.waitUntil(
        lambda: window.model_info is not None and window.model_info.context_length <= 512,
        timeout=LOAD_MS,
    )
    window.conversation.session.generation.max_tokens = 48
    for turn in range(20):
        ask(qtbot, window, f"Question {turn}: tell me about an animal.")
        if "no longer fit" in window.chat_view.plain_text():
            break
    assert "no longer fit in the model's context" in window.chat_view.plain_text()
    assert len(window.history.messages(window.conversation.conversation_id)) == 2 * (turn + 1)

    with qtbot.waitSignal(window.engine.failed, timeout=ANSWER_MS):
        window.composer.setPlainText("word " * 1500)
        click(window.send_button)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and "tokens long" in box.text()
    assert window.composer.toPlainText().startswith("word word")  # the question came back
    assert len(window.history.messages(window.conversation.conversation_id)) == 2 * (turn + 1)
