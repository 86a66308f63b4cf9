"""Hostile model files opened from the window, as a person would: the app survives and says why."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from desktop.ui.main_window import MainWindow
from tests.conftest import COUNT
from tests.fuzz.gguf_mutator import STRING, variant
from tests.scoring import Reference
from tests.ui.conftest import LOAD_MS, ask
from tests.ui.person import click, from_menu, pick_file


def _box(window: MainWindow, name: str) -> QMessageBox | None:
    box = window.findChild(QMessageBox, name)
    return box if box is not None and box.isVisible() else None


def _open(qtbot, window: MainWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    from_menu(qtbot, window, "File", "Open model file…")
    pick_file(qtbot, path)


def test_a_model_that_crashes_llama_cpp_is_refused_and_the_window_goes_on(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path, count_reference: Reference
) -> None:
    # llama.cpp abort()s on this file when it tokenizes (see tests/core/test_model_safety.py)
    bad = variant(starter_path, tmp_path / "crashy.gguf", tokenizer__ggml__model=(STRING, "llama"))
    before = [e.id for e in window.library.entries()]
    _open(qtbot, window, bad)
    qtbot.waitUntil(lambda: _box(window, "errorDialog") is not None, timeout=LOAD_MS)
    box = _box(window, "errorDialog")
    assert "crashed while opening “crashy.gguf”" in box.text() and box.informativeText()
    click(box.button(QMessageBox.StandardButton.Ok))
    assert [e.id for e in window.library.entries()] == before  # never became a library entry
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        _open(qtbot, window, starter_path)
    ask(qtbot, window, COUNT)
    count_reference.assert_matches(window.messages[-1].content)


def test_a_hostile_chat_template_loads_with_a_notice(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:
    template = "{% for i in range(10**9) %}x{% endfor %}"
    path = variant(
        starter_path, tmp_path / "loopy.gguf", tokenizer__chat_template=(STRING, template)
    )
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        _open(qtbot, window, path)
    qtbot.waitUntil(lambda: _box(window, "noticeDialog") is not None, timeout=5_000)
    notice = _box(window, "noticeDialog")
    assert "chat template cannot be used" in notice.text() and "ChatML" in notice.text()
    click(notice.button(QMessageBox.StandardButton.Ok))
    qtbot.waitUntil(lambda: _box(window, "noticeDialog") is None, timeout=5_000)
    ask(qtbot, window, "Hi")
    assert window.messages[-1].role == "assistant" and window.messages[-1].content
