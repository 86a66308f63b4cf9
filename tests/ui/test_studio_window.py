"""The "Make your own" window, used as a person: opened from the menu bar, a project made with
"New project…", kept on disk and shown again when the window is opened after a restart."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QPushButton, QTabWidget

from desktop.core.studio.project import studio_dir
from desktop.ui.main_window import MainWindow
from tests.ui.person import click, dialog_named, type_into_dialog
from tests.ui.studio_person import open_studio


def test_a_project_is_made_named_and_kept(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    studio = open_studio(qtbot, window)
    steps = studio.findChild(QTabWidget, "studioSteps")
    assert steps is not None and not steps.isEnabled()  # nothing to work on before a project
    assert [steps.tabText(i) for i in range(steps.count())] == [
        "1  Data",
        "2  Train",
        "3  Compare",
        "4  Use",
    ]
    new = next(b for b in studio.findChildren(QPushButton) if b.text() == "New project…")
    click(new)
    type_into_dialog(qtbot, "newProjectName", "  Cooking   assistant ")
    projects = studio.findChild(QComboBox, "studioProject")
    assert projects is not None and projects.currentText() == "Cooking assistant"
    assert steps.isEnabled()
    saved = json.loads((studio_dir() / "cooking-assistant" / "project.json").read_text())
    assert saved["name"] == "Cooking assistant"

    click(new)  # the same name again, in other letters: refused, the first one untouched
    type_into_dialog(qtbot, "newProjectName", "cooking ASSISTANT")
    box = dialog_named(qtbot, "errorDialog")
    assert box.text() == "There is a project named “Cooking assistant” already."  # type: ignore[attr-defined]
    assert "another name" in box.informativeText()  # type: ignore[attr-defined]
    box.close()
    assert [p.name for p in studio_dir().iterdir()] == ["cooking-assistant"]
    assert projects.count() == 1
    click(new)  # another name whose folder would be the same: a second folder, never over it
    type_into_dialog(qtbot, "newProjectName", "Cooking assistant!")
    assert sorted(p.name for p in studio_dir().iterdir()) == [
        "cooking-assistant",
        "cooking-assistant-2",
    ]
    studio.close()
    again = open_studio(qtbot, window)  # a new window lists both, the newest first
    projects = again.findChild(QComboBox, "studioProject")
    assert projects is not None and projects.count() == 2


def test_an_empty_name_is_refused_with_what_to_do(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    studio = open_studio(qtbot, window)
    new = next(b for b in studio.findChildren(QPushButton) if b.text() == "New project…")
    click(new)
    type_into_dialog(qtbot, "newProjectName", "   ")
    box = dialog_named(qtbot, "errorDialog")
    assert "needs a name" in box.text()  # type: ignore[attr-defined]
    assert not Path(studio_dir()).exists() or not any(studio_dir().iterdir())
