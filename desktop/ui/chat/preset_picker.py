"""The preset picker above the composer: which preset this chat uses ("Precise", or
"Precise (changed)" once its settings were changed), and "Presets…" to manage them.

"Presets…" (and Chat → Presets…) opens the Presets window. Picking a preset gives the chat its
system prompt and sampling (``ChatSession.use_preset``); the one picked last is what new chats
start with. Picking the preset a chat already uses, when it shows "(changed)", puts the preset's
values back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from conversion.errors import HuacayaError
from desktop.core.chat.preset_store import PresetStore
from desktop.core.chat.presets import shown_name
from desktop.core.chat.session import ChatSession
from desktop.core.settings import SettingsStore
from desktop.ui import dialogs
from desktop.ui.chat.presets_dialog import PresetsDialog
from desktop.ui.errors import show_error

NO_PRESET = "No preset"


class PresetPicker(QWidget):
    chosen = Signal(str)  # a preset was applied to the chat (its name)

    def __init__(
        self,
        presets: PresetStore,
        session: ChatSession,
        store: SettingsStore,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.presets = presets
        self.session = session
        self.store = store
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Preset", self)
        layout.addWidget(label)
        self.combo = QComboBox(self)
        self.combo.setObjectName("presetPicker")
        self.combo.setAccessibleName("Preset")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        label.setBuddy(self.combo)
        layout.addWidget(self.combo)
        self.manage = QPushButton("Presets…", self)
        self.manage.setObjectName("managePresetsButton")
        self.manage.setAutoDefault(False)
        self.manage.setToolTip("Make, duplicate, rename, delete, import and export presets")
        self.manage.clicked.connect(lambda _checked=False: self.open_manager())
        self.dialog: PresetsDialog | None = None
        layout.addWidget(self.manage)
        self.combo.activated.connect(self._on_activated)
        self.refresh()

    @property
    def shown(self) -> str:
        """What the picker shows now ("Precise (changed)")."""
        return self.combo.currentText()

    def refresh(self) -> None:
        """Show the presets, and the open chat's (changed or not)."""
        current = self.presets.get(self.session.preset) if self.session.preset else None
        self.combo.blockSignals(True)
        self.combo.clear()
        if current is None:
            self.combo.addItem(NO_PRESET, "")
        for preset in self.presets.presets:
            changed = preset is current and self.session.preset_changed(preset)
            self.combo.addItem(shown_name(preset.name, changed), preset.name)
            self.combo.setItemData(
                self.combo.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole
            )
        self.combo.setCurrentIndex(max(0, self.combo.findData(current.name if current else "")))
        self.combo.blockSignals(False)
        self.combo.setToolTip(current.description if current else "")

    def use(self, name: str) -> None:
        """Apply preset ``name`` to the open chat (and to the new chats that follow)."""
        preset = self.presets.get(name)
        if preset is None:
            self.refresh()
            return
        try:
            self.session.use_preset(preset)
            self.store.update(chat_preset=preset.name)
        except HuacayaError as exc:
            show_error(self, exc)
        self.refresh()
        self.chosen.emit(preset.name)

    def open_manager(self) -> PresetsDialog:
        """The Presets window (one; it shows the open chat's preset)."""
        if self.dialog is None:
            session = self.session
            self.dialog = PresetsDialog(
                self.presets, lambda: (session.system_prompt, session.generation), self.window()
            )
            self.dialog.changed.connect(self.refresh)
            self.dialog.use_requested.connect(self.use)
        self.dialog.show_presets(self.session.preset)
        return dialogs.present(self.dialog)

    def _on_activated(self, index: int) -> None:
        name = self.combo.itemData(index)
        if name:
            self.use(name)
