"""What a new user met in the window (issue 26): the status bar keeps the model in view, Undo of
a delete brings the chat back into view, an edit can be undone, titles and the rename field
fit, a folder or file that nothing opens is shown with its path, and the themes stay legible.
Each is done as a person does it: clicks, keys, menus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QCheckBox, QStyle, QStyleOptionButton

from desktop.core import paths
from desktop.ui import main_window
from desktop.ui.main_window import MainWindow
from tests.helpers import text_file_named_gguf
from tests.ui.conftest import ANSWER_MS, ask, type_and_send
from tests.ui.opener import first_on_path, opened, system_opener
from tests.ui.person import (
    choose,
    click,
    click_link,
    dialog_named,
    from_menu,
    open_menu,
    pick_file,
    right_click,
    status_line,
)
from tests.ui.test_conversations import choose_theme

LONG = "Please list three colours that alpacas come in, and say where each colour is most common"


def model_shown(window: MainWindow) -> bool:
    text = status_line(window)
    return "· context" in text and "thread" in text


def chat_row(window: MainWindow, conversation_id: int):  # type: ignore[no-untyped-def]
    chats = window.sidebar.list
    item = window.sidebar.item_for(conversation_id)
    assert item is not None
    return chats.viewport(), chats.visualItemRect(item).center()


def test_messages_leave_the_status_bar_and_the_model_comes_back(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window, "MESSAGE_MS", 1_500)
    qtbot.waitUntil(lambda: model_shown(window), timeout=5_000)
    ask(qtbot, window, "Name a colour.")
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Edit last
    assert "Editing a question" in status_line(window)
    qtbot.keyClick(window.composer, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClicks(window.composer, "Name a fruit.")
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: model_shown(window), timeout=5_000)  # not an empty status bar

    bad = text_file_named_gguf(tmp_path / "list.gguf")
    from_menu(qtbot, window, "File", "Open model file…")
    pick_file(qtbot, bad)
    error = dialog_named(qtbot, "errorDialog")
    assert status_line(window) == "That file is not a usable model."
    qtbot.keyClick(error, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: model_shown(window), timeout=5_000)  # the message went by itself


def test_undo_of_a_delete_brings_the_open_chat_back_into_view(qtbot, window: MainWindow) -> None:
    ask(qtbot, window, "Name a colour.")
    chat = window.conversation.conversation_id
    assert chat is not None
    qtbot.keyClick(
        window,
        Qt.Key.Key_Backspace,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.sidebar.undo_bar.isVisible()
    assert "Name a colour." not in window.chat_view.plain_text()
    click(window.sidebar.undo_button)
    assert "Name a colour." in window.chat_view.plain_text()  # what is highlighted is shown
    assert window.sidebar.list.currentItem() is window.sidebar.item_for(chat)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        type_and_send(qtbot, window, "Name another one.")
    assert len(window.history.messages(chat)) == 4  # typing goes on in that chat
    assert len(window.history.list()) == 1

    # another chat is open while one is deleted from its menu: Undo leaves the open one open
    click(window.sidebar.new_button)
    ask(qtbot, window, "Name a fruit.")
    second = window.conversation.conversation_id
    choose(qtbot, right_click(*chat_row(window, chat)), "Delete")
    click(window.sidebar.undo_button)
    assert window.conversation.conversation_id == second
    assert window.sidebar.list.currentItem() is window.sidebar.item_for(second)
    assert len(window.history.list()) == 2


def test_an_edited_first_question_can_be_undone_and_the_title_follows_it(
    qtbot, window: MainWindow
) -> None:
    ask(qtbot, window, "Name a colour.")
    ask(qtbot, window, "Name another one.")
    chat = window.conversation.conversation_id
    before = [(m.role, m.content) for m in window.history.messages(chat)]
    click_link(window.chat_view, f"action:edit:{window.messages[0].key}")
    qtbot.keyClick(window.composer, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClicks(window.composer, "Name a fruit.")
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert len(window.history.messages(chat)) == 2
    assert window.history.get(chat).title == "Name a fruit."  # the title follows the question
    assert "Name a fruit." in window.sidebar.item_for(chat).text()
    bar = window.edit_undo_bar
    assert bar.isVisible() and "4 messages" in bar.label.text()

    click(bar.undo_button)
    assert [(m.role, m.content) for m in window.history.messages(chat)] == before
    assert "Name another one." in window.chat_view.plain_text()
    assert window.history.get(chat).title == "Name a colour."
    assert "Name a colour." in window.sidebar.item_for(chat).text()
    assert not bar.isVisible()

    # Keep: the offer goes, the edit stays
    click_link(window.chat_view, f"action:edit:{window.messages[2].key}")
    with qtbot.waitSignal(window.answer_finished, timeout=ANSWER_MS):
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert bar.isVisible()
    click(bar.keep_button)
    assert not bar.isVisible() and len(window.history.messages(chat)) == 4


def test_a_long_first_question_titles_the_chat_without_an_ellipsis_and_rename_shows_it_all(
    qtbot, window: MainWindow
) -> None:
    choose_theme(qtbot, window, "light", 16)
    ask(qtbot, window, LONG)
    title = window.history.get(window.conversation.conversation_id).title
    assert not title.endswith("…") and LONG.startswith(title) and len(title) <= 60
    assert LONG[len(title)] == " "  # it ends at a whole word
    qtbot.keyClick(window, Qt.Key.Key_F2)
    dialog = dialog_named(qtbot, "renameDialog")
    field = dialog.findChild(type(window.sidebar.search))
    assert field.text() == title
    room = field.width() - 16  # less its frame and padding
    assert field.fontMetrics().horizontalAdvance(title) <= room  # the whole title shows
    assert dialog.frameGeometry().width() <= dialog.screen().availableGeometry().width()
    qtbot.keyClick(field, Qt.Key.Key_Escape)


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="xdg-open is the Linux opener")
def test_the_log_folder_opens_or_its_path_is_shown_to_copy(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = system_opener(tmp_path, exit_status=0)
    monkeypatch.setenv("PATH", first_on_path(working))
    choose(qtbot, open_menu(qtbot, window, "Help"), "Open the log folder")
    qtbot.waitUntil(lambda: opened(working) == str(paths.log_dir()), timeout=5_000)

    monkeypatch.setenv("PATH", first_on_path(system_opener(tmp_path, exit_status=3)))
    from_menu(qtbot, window, "Help", "Open the log folder")
    dialog = dialog_named(qtbot, "pathDialog")
    assert "No application" in dialog.message.text()
    assert dialog.path.text() == str(paths.log_dir())
    click(dialog.copy_button)
    assert QGuiApplication.clipboard().text() == str(paths.log_dir())
    dialog.close()

    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no opener at all
    from_menu(qtbot, window, "Help", "Open the log folder")
    assert "xdg-open is missing" in dialog_named(qtbot, "pathDialog").message.text()


def _contrast(a: QColor, b: QColor) -> float:
    def luminance(color: QColor) -> float:
        channels = [c / 255 for c in (color.red(), color.green(), color.blue())]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def frame_contrast(box: QCheckBox) -> float:
    """How well the drawn frame of the check box stands out from what is around it."""
    image = box.grab().toImage()
    option = QStyleOptionButton()
    option.initFrom(box)
    rect: QRect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    ratio = image.width() / box.width()
    inside = image.pixelColor(int(rect.center().x() * ratio), int(rect.center().y() * ratio))
    around = image.pixelColor(int((rect.left() - 2) * ratio), int(rect.center().y() * ratio))
    edge = [
        image.pixelColor(int(rect.left() * ratio) + dx, int(rect.center().y() * ratio))
        for dx in range(3)
    ]
    return max(min(_contrast(c, inside), _contrast(c, around)) for c in edge)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_check_boxes_show_and_the_input_hint_fits_at_font_16_in_900_by_600(
    qtbot, window: MainWindow, theme: str
) -> None:
    choose_theme(qtbot, window, theme, 16)
    window.resize(900, 600)  # as a person drags it to
    qtbot.waitUntil(lambda: window.width() == 900, timeout=5_000)
    composer = window.composer
    hint = composer.placeholderText()
    room = composer.viewport().width() - 2 * int(composer.document().documentMargin())
    assert hint.startswith("Ask anything")
    assert composer.fontMetrics().horizontalAdvance(hint) <= room  # on its one line, whole

    from_menu(qtbot, window, "Edit", "Settings…")
    dialog = dialog_named(qtbot, "settingsDialog")
    tabs = dialog.tabs.tabBar()
    click(tabs, tabs.tabRect(0).center())  # This chat
    box = dialog.save_as_default
    qtbot.waitUntil(box.isVisible, timeout=5_000)
    assert frame_contrast(box) >= 2.5, theme  # the empty box is seen, not guessed
    size = box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, box)
    assert size >= box.fontMetrics().height() * 0.6  # and grows with the font
    dialog.close()


def test_the_first_window_fits_a_small_screen(qtbot, monkeypatch, huacaya_home) -> None:  # type: ignore[no-untyped-def]
    """On a 900×600 screen (a small laptop, a VM), the window a person sees at the first start
    fits the screen, title bar and borders included (it opened at 1100×720, partly off it)."""
    from desktop.ui import screen_fit

    monkeypatch.setattr(screen_fit, "screen_area", lambda _widget: QRect(0, 0, 900, 600))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    frame = screen_fit.FRAME
    assert window.width() + frame.width() <= 900, window.width()
    assert window.height() + frame.height() <= 600, window.height()
    assert window.x() >= 0 and window.y() >= 0
    window.close()
