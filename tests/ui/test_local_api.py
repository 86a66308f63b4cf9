"""Settings → Local API, used as a person does: open Settings, choose a port and how many requests
are answered at once, turn the switch on, press OK — then another program (the official openai
client) chats with the model; closing the window stops the server."""

from __future__ import annotations

import socket

import httpx
import openai
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox

from desktop.core.settings import SettingsStore
from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT
from tests.helpers import greedy_by_default
from tests.scoring import Reference
from tests.ui.conftest import open_window
from tests.ui.person import click, dialog_named, from_menu, toggle

START_MS = 15_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_local_api_tab(qtbot, window: MainWindow):  # type: ignore[no-untyped-def]
    """Edit → Settings…, then a click on the Local API tab: (the dialog, the tab)."""
    from_menu(qtbot, window, "Edit", "Settings…")
    dialog = dialog_named(qtbot, "settingsDialog")
    tabs = dialog.tabs  # type: ignore[attr-defined]
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Local API")
    click(tabs.tabBar(), tabs.tabBar().tabRect(index).center())
    assert tabs.currentIndex() == index
    return dialog, tabs.widget(index)


def type_number(qtbot, spin, value: int) -> None:  # type: ignore[no-untyped-def]
    click(spin)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, str(value))


def test_turning_the_local_api_on_serves_the_model_to_other_programs(
    qtbot, window: MainWindow, count_reference: Reference
) -> None:  # type: ignore[no-untyped-def]
    assert not window.local_api.running  # off by default
    port = free_port()
    dialog, tab = open_local_api_tab(qtbot, window)
    spin = tab.port
    click(spin)
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, str(port))
    assert tab.address.text() == f"http://127.0.0.1:{port}/v1"
    assert tab.parallel.value() == 4  # the default
    click(tab.parallel)
    qtbot.keyClick(tab.parallel, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(tab.parallel, "3")
    assert not tab.key.isVisible()  # this computer only: no key needed
    click(tab.copy_address)
    assert QGuiApplication.clipboard().text() == f"http://127.0.0.1:{port}/v1"
    toggle(tab.switch)
    click(dialog.ok_button)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.local_api.running, timeout=START_MS)
    assert f"127.0.0.1:{port}" in window.status_label.text()
    assert window.store.settings.local_api_parallel == 3  # saved
    assert window.local_api.server is not None
    assert window.local_api.server.worker is not None
    assert window.local_api.server.worker.parallel == 3
    assert window.local_api.server.config.background  # the window's own answers come first

    with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as api:
        assert "smollm2-135m-instruct" in [m.id for m in api.models.list().data]
        reply = api.chat.completions.create(
            model="smollm2-135m-instruct", messages=[{"role": "user", "content": COUNT}]
        )
    count_reference.assert_matches(reply.choices[0].message.content or "")  # the app's settings

    window.close()
    assert not window.local_api.running
    try:
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
        raise AssertionError("the server still answers after the window closed")
    except httpx.ConnectError:
        pass


def test_the_number_of_answers_at_once_is_kept_and_applied_when_the_api_restarts(
    qtbot, huacaya_home
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    greedy_by_default(huacaya_home, 64)
    SettingsStore().update(local_api_enabled=True, local_api_port=port, local_api_parallel=2)
    window = open_window(qtbot)  # the app starts with the API on, as it was left
    qtbot.waitUntil(lambda: window.local_api.running, timeout=START_MS)
    first = window.local_api.server
    assert first is not None and first.worker is not None and first.worker.parallel == 2

    # Changed in Settings, then Cancel: nothing changes, the server goes on.
    dialog, tab = open_local_api_tab(qtbot, window)
    assert tab.parallel.value() == 2
    type_number(qtbot, tab.parallel, 9)
    assert tab.parallel.value() == 9
    buttons = dialog.findChild(QDialogButtonBox)
    click(buttons.button(QDialogButtonBox.StandardButton.Cancel))
    assert window.local_api.server is first and SettingsStore().settings.local_api_parallel == 2

    # Changed, then OK: saved, and the API restarts answering that many at once.
    dialog, tab = open_local_api_tab(qtbot, window)
    type_number(qtbot, tab.parallel, 6)
    click(dialog.ok_button)  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: window.local_api.running and window.local_api.server is not first,
        timeout=START_MS,
    )
    server = window.local_api.server
    assert server is not None and server.worker is not None and server.worker.parallel == 6
    assert SettingsStore().settings.local_api_parallel == 6  # on disk, for the next start
    with openai.OpenAI(base_url=server.url, api_key="x", max_retries=0) as api:
        assert api.models.list().data  # the restarted server answers on the same port
    assert server.url.endswith(f":{port}/v1")
    window.close()
    assert not window.local_api.running
