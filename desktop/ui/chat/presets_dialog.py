"""Chat → Presets… (or "Presets…" beside the picker): the presets, what each one sets, and New
(from this chat's settings), Duplicate, Update from chat (one's own preset takes the chat's
settings), Rename, Delete, Import and Export (JSON files), and "Use in this chat". Built-in
presets can only be duplicated. Every change is saved at once by the preset store
(``desktop.core.chat.preset_store``); a file that cannot be imported is named with its first
problem, and nothing of it is added."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core.chat.preset_store import PresetStore
from desktop.core.chat.presets import Preset
from desktop.core.settings import SAMPLING, GenerationSettings
from desktop.ui import dialogs
from desktop.ui.errors import show_error
from desktop.ui.screen_fit import keep_fitted

JSON_FILTER = "Presets (*.json)"


def sampling_text(preset: Preset) -> str:
    """ "Temperature 0.2 · Top-p 0.9; the rest: the model's defaults"."""
    if not preset.sampling:
        return "The model's defaults for every sampling value."
    shown = []
    for name, option in SAMPLING.items():
        if name in preset.sampling:
            value = preset.sampling[name]
            words = option.at_low if option.at_low and value == option.low else f"{value:g}"
            shown.append(f"{option.label} {words}")
    rest = "" if len(shown) == len(SAMPLING) else "; the rest: the model's defaults"
    return " · ".join(shown) + rest


class PresetsDialog(QDialog):
    changed = Signal()  # presets were added, renamed or deleted
    use_requested = Signal(str)  # "Use in this chat" (a preset's name)

    def __init__(
        self,
        presets: PresetStore,
        chat_settings: Callable[[], tuple[str, GenerationSettings]],
        parent: QWidget | None = None,
    ) -> None:
        """``chat_settings()``: the open chat's system prompt and sampling (for New)."""
        super().__init__(parent)
        self.setObjectName("presetsDialog")
        self.setWindowTitle("Presets")
        self.presets = presets
        self.chat_settings = chat_settings
        self.list = QListWidget(self)
        self.list.setObjectName("presetList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.list.itemSelectionChanged.connect(self._enable)
        self.list.itemDoubleClicked.connect(lambda _item: self._use())
        self.description = QLabel(self)
        self.description.setObjectName("presetDescription")
        self.description.setWordWrap(True)
        self.sampling = QLabel(self)
        self.sampling.setObjectName("presetSampling")
        self.sampling.setWordWrap(True)
        self.system_prompt = QPlainTextEdit(self)
        self.system_prompt.setObjectName("presetSystemPrompt")
        self.system_prompt.setReadOnly(True)
        self.system_prompt.setPlaceholderText("No system prompt")
        details = QVBoxLayout()
        details.addWidget(self.description)
        details.addWidget(QLabel("<b>Sampling</b>", self))
        details.addWidget(self.sampling)
        details.addWidget(QLabel("<b>System prompt</b>", self))
        details.addWidget(self.system_prompt, 1)

        self.buttons: dict[str, QPushButton] = {}
        column = QVBoxLayout()
        for text, slot, tip in (
            ("Use in this chat", self._use, "The open chat takes this preset's settings"),
            ("New…", self._new, "A preset made of the open chat's system prompt and sampling"),
            ("Duplicate", self._duplicate, "A copy of this preset, to change"),
            (
                "Update from chat",
                self._update,
                "This preset takes the open chat's system prompt and sampling",
            ),
            ("Rename…", self._rename, ""),
            ("Delete", self._delete, ""),
            ("Import…", self._import, "Add the presets of a JSON file"),
            ("Export…", self._export, "Save the selected presets to a JSON file"),
        ):
            button = QPushButton(text, self)
            button.setAutoDefault(False)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
            column.addWidget(button)
            self.buttons[text.rstrip("…")] = button
        column.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 2)
        row.addLayout(details, 3)
        row.addLayout(column)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(close)
        self.show_presets()
        metrics = self.fontMetrics()  # room for a system prompt of a few lines, where it fits
        keep_fitted(self, QSize(metrics.averageCharWidth() * 110, metrics.lineSpacing() * 26))

    # -- what is shown ---------------------------------------------------------------------

    def show_presets(self, select: str = "") -> None:
        current = select or self._current_name()
        self.list.clear()
        for preset in self.presets.presets:
            text = f"{preset.name}  (built in)" if preset.builtin else preset.name
            item = QListWidgetItem(text, self.list)
            item.setData(Qt.ItemDataRole.UserRole, preset.name)
            item.setToolTip(preset.description)
            if preset.name == current:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self._show_current()

    def _current_name(self) -> str:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else ""

    def _selected_names(self) -> list[str]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]

    def _show_current(self) -> None:
        preset = self.presets.get(self._current_name())
        self.description.setText(preset.description if preset else "")
        self.sampling.setText(sampling_text(preset) if preset else "")
        self.system_prompt.setPlainText(preset.system_prompt if preset else "")
        self._enable()

    def _enable(self) -> None:
        preset = self.presets.get(self._current_name())
        own = preset is not None and not preset.builtin
        self.buttons["Rename"].setEnabled(own)
        self.buttons["Delete"].setEnabled(own)
        self.buttons["Update from chat"].setEnabled(own)
        self.buttons["Use in this chat"].setEnabled(preset is not None)
        self.buttons["Duplicate"].setEnabled(preset is not None)
        self.buttons["Export"].setEnabled(bool(self._selected_names()) or preset is not None)

    def _changed(self, select: str = "") -> None:
        self.show_presets(select)
        self.changed.emit()

    def _attempt(self, action: Callable[[], object]) -> None:
        try:
            action()
        except HuacayaError as exc:
            show_error(self, exc)

    # -- the buttons -----------------------------------------------------------------------

    def _use(self) -> None:
        name = self._current_name()
        if name:
            self.use_requested.emit(name)

    def _new(self) -> None:
        def make(name: str) -> None:
            system_prompt, generation = self.chat_settings()
            preset = Preset(
                name,
                "Made from a chat's settings.",
                system_prompt,
                {key: value for key, value in asdict(generation).items() if key in SAMPLING},
            )
            self._attempt(lambda: self._changed(self.presets.add(preset).name))

        dialogs.ask_text(
            self,
            "New preset",
            "A preset with the open chat's system prompt and sampling, named:",
            self.presets.unique_name("My preset"),
            make,
            name="presetNameDialog",
        )

    def _update(self) -> None:
        preset = self.presets.get(self._current_name())
        if preset is None:
            return
        system_prompt, generation = self.chat_settings()
        sampling = {key: value for key, value in asdict(generation).items() if key in SAMPLING}
        changed = replace(preset, system_prompt=system_prompt, sampling=sampling)
        self._attempt(lambda: self._changed(self.presets.update(changed).name))

    def _duplicate(self) -> None:
        name = self._current_name()
        self._attempt(lambda: self._changed(self.presets.duplicate(name).name))

    def _rename(self) -> None:
        old = self._current_name()

        def rename(new: str) -> None:
            self._attempt(lambda: self._changed(self.presets.rename(old, new).name))

        dialogs.ask_text(self, "Rename preset", "New name:", old, rename, name="presetNameDialog")

    def _delete(self) -> None:
        name = self._current_name()

        def delete() -> None:
            self.presets.delete(name)
            self._changed()

        dialogs.confirm(
            self,
            "Delete preset",
            f"Delete the preset “{name}”?",
            lambda: self._attempt(delete),
            detail="Chats that use it keep their settings.",
        )

    def _import(self) -> None:
        def load(path: Path) -> None:
            def add() -> None:
                added = self.presets.import_file(path)
                self._changed(added[0].name)

            self._attempt(add)

        dialogs.open_file(self, "Import presets", load, JSON_FILTER)

    def _export(self) -> None:
        names = self._selected_names() or [self._current_name()]
        first = names[0] if len(names) == 1 else "presets"
        start = Path.home() / f"{_file_stem(first)}.json"

        def write(path: Path) -> None:
            self._attempt(lambda: self.presets.export_file(path, names))

        dialogs.save_file(self, "Export presets", write, JSON_FILTER, start)


def _file_stem(name: str) -> str:
    """A file name made of a preset's name (characters no file system minds)."""
    kept = "".join(c if c.isalnum() or c in " -_" else "-" for c in name).strip()
    return kept or "preset"
