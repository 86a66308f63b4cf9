"""Presets and the context meter, used as a person does: a preset picked with clicks changes
what the model is asked with and is still the chat's after a restart; a bad preset file is named
with its problem; presets go out to a file and come back. The meter's count grows while typing,
and warns when the next question would push earlier messages out of a small context."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QMessageBox

from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.presets import BUILTIN_PRESETS
from desktop.core.chat.response import AnswerRequest, Response
from desktop.core.settings import GenerationSettings, SettingsStore
from desktop.ui.chat.context_meter import WARNING_ON_DARK, WARNING_ON_LIGHT
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT
from tests.ui.conftest import ask, open_window
from tests.ui.person import choose_in_combo, click, dialog_named, pick_file

WAIT_MS = 10_000
PRECISE = next(p for p in BUILTIN_PRESETS if p.name == "Precise")


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[AnswerRequest]:
    """What the engine is asked with (the real engine answers)."""
    requests: list[AnswerRequest] = []
    respond = ChatEngine.respond

    def recording(engine: ChatEngine, request: AnswerRequest) -> Response:
        requests.append(request)
        return respond(engine, request)

    monkeypatch.setattr(ChatEngine, "respond", recording)
    return requests


def test_a_preset_picked_with_clicks_is_what_the_model_gets_and_stays_after_a_restart(
    qtbot, window: MainWindow, asked: list[AnswerRequest]
) -> None:
    picker = window.preset_picker
    assert picker.shown == "Default"
    choose_in_combo(qtbot, picker.combo, "Precise")
    assert picker.shown == "Precise"
    ask(qtbot, window, COUNT)
    request = asked[-1]
    assert request.messages[0] == {"role": "system", "content": PRECISE.system_prompt}
    assert request.settings.temperature == PRECISE.sampling["temperature"]
    assert request.settings.max_tokens == 64  # not in the preset: the user's default stays

    # A value changed in Settings: the preset shows as changed, and the model gets the value.
    qtbot.keySequence(window, "Ctrl+,")
    dialog = dialog_named(qtbot, "settingsDialog")
    box = dialog.sampling["temperature"]
    click(box)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "0.90")
    click(dialog.ok_button)
    qtbot.waitUntil(lambda: picker.shown == "Precise (changed)", timeout=WAIT_MS)
    ask(qtbot, window, COUNT)
    assert asked[-1].settings.temperature == 0.9

    window.close()
    again = open_window(qtbot)
    assert again.preset_picker.shown == "Precise (changed)"
    # Picking it again puts its values back.
    choose_in_combo(qtbot, again.preset_picker.combo, "Precise")
    assert again.preset_picker.shown == "Precise"
    ask(qtbot, again, COUNT)
    assert asked[-1].settings.temperature == PRECISE.sampling["temperature"]
    again.close()


def rows(dialog) -> list[str]:  # type: ignore[no-untyped-def]
    shown = dialog.findChild(QListWidget, "presetList")
    return [shown.item(i).text() for i in range(shown.count())]


def click_row(dialog, text: str) -> None:  # type: ignore[no-untyped-def]
    shown = dialog.findChild(QListWidget, "presetList")
    item = next(shown.item(i) for i in range(shown.count()) if shown.item(i).text() == text)
    click(shown.viewport(), shown.visualItemRect(item).center())


def test_a_bad_preset_file_is_named_and_presets_go_out_to_a_file_and_come_back(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    click(window.preset_picker.manage)
    dialog = dialog_named(qtbot, "presetsDialog")
    bad = tmp_path / "hot.json"
    bad.write_text(json.dumps({"name": "Hot", "sampling": {"temperature": 3}}), encoding="utf-8")
    click(dialog.buttons["Import"])
    pick_file(qtbot, bad)
    error = dialog_named(qtbot, "errorDialog")
    assert isinstance(error, QMessageBox)
    assert error.text() == (
        "“hot.json”: In the preset (“Hot”), temperature is 3, out of range: it must be a "
        "number from 0 to 2."
    )
    click(error.button(QMessageBox.StandardButton.Ok))
    assert "Hot" not in rows(dialog)

    click_row(dialog, "Precise  (built in)")
    assert not dialog.buttons["Delete"].isEnabled()  # built in: only duplicated
    click(dialog.buttons["Duplicate"])
    assert rows(dialog)[-1] == "Precise copy"
    out = tmp_path / "mine.json"
    click(dialog.buttons["Export"])
    pick_file(qtbot, out)
    qtbot.waitUntil(out.exists, timeout=WAIT_MS)
    click(dialog.buttons["Delete"])
    confirm = dialog_named(qtbot, "confirmDialog")
    click(confirm.button(QMessageBox.StandardButton.Yes))
    qtbot.waitUntil(lambda: "Precise copy" not in rows(dialog), timeout=WAIT_MS)
    click(dialog.buttons["Import"])
    pick_file(qtbot, out)
    qtbot.waitUntil(lambda: "Precise copy" in rows(dialog), timeout=WAIT_MS)
    copy = window.presets.get("Precise copy")
    assert copy is not None and copy.sampling == PRECISE.sampling
    assert copy.system_prompt == PRECISE.system_prompt
    # …and it is offered in the chat's picker
    combo = window.preset_picker.combo
    assert "Precise copy" in [combo.itemText(i) for i in range(combo.count())]
    # One's own preset takes the open chat's settings (a new chat: Default, greedy answers).
    click_row(dialog, "Precise copy")
    click(dialog.buttons["Update from chat"])
    updated = window.presets.get("Precise copy")
    assert updated is not None and updated.system_prompt == ""
    assert updated.sampling["temperature"] == 0.0 and updated.sampling["max_tokens"] == 64


def test_a_preset_picked_in_settings_fills_the_chats_settings(
    qtbot, window: MainWindow, asked: list[AnswerRequest]
) -> None:
    concise = next(p for p in BUILTIN_PRESETS if p.name == "Concise")
    qtbot.keySequence(window, "Ctrl+,")
    dialog = dialog_named(qtbot, "settingsDialog")
    choose_in_combo(qtbot, dialog.preset, "Concise")
    assert dialog.system_prompt.toPlainText() == concise.system_prompt
    assert dialog.sampling["max_tokens"].value() == concise.sampling["max_tokens"]
    click(dialog.ok_button)
    qtbot.waitUntil(lambda: window.preset_picker.shown == "Concise", timeout=WAIT_MS)
    ask(qtbot, window, COUNT)
    assert asked[-1].messages[0] == {"role": "system", "content": concise.system_prompt}
    assert asked[-1].settings.max_tokens == concise.sampling["max_tokens"]


def count(window: MainWindow) -> int:
    found = re.match(r"([\d,]+) / ([\d,]+) tokens", window.context_meter.text())
    assert found, window.context_meter.text()
    return int(found.group(1).replace(",", ""))


@pytest.fixture
def small_context(huacaya_home: Path) -> None:
    """A user who chose a small context (256 tokens) and short greedy answers."""
    SettingsStore(huacaya_home / "config" / "settings.json").update(
        context_length=256,
        generation=GenerationSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=32),
    )


def test_the_meter_counts_while_typing_and_warns_before_earlier_messages_are_left_out(
    qtbot, small_context: None
) -> None:
    window = open_window(qtbot)
    meter = window.context_meter
    qtbot.waitUntil(meter.isVisible, timeout=WAIT_MS)
    empty = count(window)
    assert meter.text().endswith(" / 256 tokens")
    click(window.composer)
    qtbot.keyClicks(window.composer, "How many legs")
    qtbot.waitUntil(lambda: count(window) > empty, timeout=WAIT_MS)
    typed = count(window)
    qtbot.keyClicks(window.composer, " does a spider have?")
    qtbot.waitUntil(lambda: count(window) > typed, timeout=WAIT_MS)
    window.composer.clear()

    ask(qtbot, window, COUNT)
    ask(qtbot, window, "Name the days of the week.")
    qtbot.waitUntil(
        lambda: "left out" not in meter.text() and count(window) > empty, timeout=WAIT_MS
    )
    assert not meter.use.warning  # type: ignore[union-attr]

    # A long question, typed until the meter warns: the question is then just too long for the
    # whole conversation, and the meter says how many earlier messages sending it leaves out.
    click(window.composer)
    qtbot.keyClicks(window.composer, "Now tell me about")
    for _ in range(60):
        if "will be left out" in meter.text():
            break
        before = count(window)
        qtbot.keyClicks(window.composer, " apples, pears and plums,")
        qtbot.waitUntil(lambda before=before: count(window) > before, timeout=WAIT_MS)
    assert re.search(r"· \d+ earlier messages will be left out$", meter.text()), meter.text()
    assert meter.styleSheet() == f"color: {WARNING_ON_LIGHT}; font-weight: bold;"
    window.store.update(theme="dark")  # (as Settings → App → Theme does)
    qtbot.waitUntil(lambda: WARNING_ON_DARK in meter.styleSheet(), timeout=WAIT_MS)
    with qtbot.waitSignal(window.answer_finished, timeout=60_000):
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    # Sent: those messages are out of the model's view now (the transcript says so under the
    # answer), and the next question pushes no more out.
    qtbot.waitUntil(
        lambda: bool(re.search(r"\d+ earlier messages left out$", meter.text())), timeout=WAIT_MS
    )
    assert meter.styleSheet() == "", meter.text()
    assert "no longer fit in the model's context" in window.chat_view.toPlainText()
    window.close()
