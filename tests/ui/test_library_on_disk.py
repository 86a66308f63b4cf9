"""The model list follows the library on disk, whoever changed it: a model installed from a
terminal (what ``huacaya-train --export-gguf`` runs) appears in the open window, a person picks
it and chats with it; renamed in the terminal, it is renamed in the window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conversion.gguf_file import read_gguf_info
from desktop.core.models.library import ModelLibrary
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import LOAD_MS
from tests.ui.person import choose_in_combo, status_line

ROOT = Path(__file__).resolve().parents[2]


def terminal(*args: str) -> str:
    """``huacaya …`` in another process, as a person types it in a terminal."""
    done = subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def another_model(starter: Path, path: Path) -> Path:
    """The starter with two 4-bit weights changed: a model of its own (the app installs the same
    file only once)."""
    data = bytearray(starter.read_bytes())
    info = read_gguf_info(starter)
    tensor = next(t for t in info.tensors if t.name == "blk.0.ffn_down.weight")
    data[info.data_start + tensor.offset + 4] ^= 0x11  # a Q4_1 block: f16 d, f16 m, then nibbles
    path.write_bytes(bytes(data))
    return path


def test_a_model_installed_in_a_terminal_appears_in_the_open_window(
    qtbot, window: MainWindow, starter_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    picker = window.model_picker
    before = picker.count()
    copy = another_model(starter_path, tmp_path / "exported.gguf")
    terminal("models", "import", str(copy), "--quant", "none", "--name", "From the terminal")
    model_id = ModelLibrary().get("From the terminal").id

    qtbot.waitUntil(lambda: picker.findData(model_id) >= 0, timeout=10_000)
    assert picker.count() == before + 1
    assert "From the terminal was added" in status_line(window)
    with qtbot.waitSignal(window.model_ready, timeout=LOAD_MS):
        choose_in_combo(qtbot, picker, model_id)
    assert window.model_entry.id == model_id

    terminal("models", "rename", model_id, "Renamed in the terminal")
    qtbot.waitUntil(lambda: picker.currentText() == "Renamed in the terminal", timeout=10_000)
    assert window.model_entry.name == "Renamed in the terminal"
