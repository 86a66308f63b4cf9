"""Settings: this chat's system prompt, prompt format and sampling; the app's threads, context
length, GPU layers, theme and font size; the local API. "Reset" goes back to the model's
defaults, "Use as default for this model" makes them so for new chats."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core import hardware
from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.settings import GenerationSettings, Settings
from desktop.ui.local_api_tab import LocalApiTab

FORMAT_LABELS = {
    "auto": "Automatic (the model's template)",
    "alpaca": "Alpaca (Stanford)",
    "chatml": "ChatML",
    "llama3": "Llama 3",
}
THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def _double(low: float, high: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    return box


def _int(low: int, high: int, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    if special:
        box.setSpecialValueText(special)
    return box


class SettingsDialog(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        settings: Settings,
        system_prompt: str,
        prompt_format: str,
        generation: GenerationSettings,
        model_defaults: GenerationSettings,
        local_api_status: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.model_defaults = model_defaults
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("settingsTabs")
        self.tabs.addTab(self._chat_tab(system_prompt, prompt_format, generation), "This chat")
        self.tabs.addTab(self._app_tab(settings), "App")
        self.local_api = LocalApiTab(settings, local_api_status)
        self.tabs.addTab(self.local_api, "Local API")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    def _chat_tab(
        self, system_prompt: str, prompt_format: str, generation: GenerationSettings
    ) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.system_prompt = QPlainTextEdit(system_prompt)
        self.system_prompt.setPlaceholderText("Optional: how the assistant should behave")
        self.system_prompt.setMaximumHeight(90)
        form.addRow("System prompt", self.system_prompt)
        self.prompt_format = QComboBox()
        for name in FORMAT_CHOICES:
            self.prompt_format.addItem(FORMAT_LABELS.get(name, name), name)
        self.prompt_format.setCurrentIndex(max(0, self.prompt_format.findData(prompt_format)))
        form.addRow("Prompt format", self.prompt_format)
        self.temperature = _double(0, 2, 0.05)
        self.top_p = _double(0, 1, 0.01)
        self.top_k = _int(0, 500, "off")
        self.min_p = _double(0, 1, 0.01)
        self.repeat_penalty = _double(0, 3, 0.01)
        self.max_tokens = _int(1, 32768)
        self.seed = _int(-1, 2**31 - 1, "random")
        for label, widget in (
            ("Temperature", self.temperature),
            ("Top-p", self.top_p),
            ("Top-k", self.top_k),
            ("Min-p", self.min_p),
            ("Repeat penalty", self.repeat_penalty),
            ("Max new tokens", self.max_tokens),
            ("Seed", self.seed),
        ):
            form.addRow(label, widget)
        self._show_generation(generation)
        reset = QPushButton("Reset to the model's defaults")
        reset.setAutoDefault(False)  # Enter anywhere in the dialog means OK, never Reset
        reset.clicked.connect(lambda: self._show_generation(self.model_defaults))
        form.addRow("", reset)
        self.save_as_default = QCheckBox("Use these as the default for new chats with this model")
        form.addRow("", self.save_as_default)
        return tab

    def _show_generation(self, generation: GenerationSettings) -> None:
        self.temperature.setValue(generation.temperature)
        self.top_p.setValue(generation.top_p)
        self.top_k.setValue(generation.top_k)
        self.min_p.setValue(generation.min_p)
        self.repeat_penalty.setValue(generation.repeat_penalty)
        self.max_tokens.setValue(generation.max_tokens)
        self.seed.setValue(generation.seed)

    def _app_tab(self, settings: Settings) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.threads = _int(0, 256, f"automatic ({hardware.default_threads()})")
        self.threads.setToolTip(
            "CPU threads for answering. Automatic leaves a core free, so the answer keeps its "
            "speed when another program is busy."
        )
        self.threads.setValue(settings.threads)
        form.addRow("CPU threads", self.threads)
        self.context_length = _int(256, 131072)
        self.context_length.setSingleStep(512)
        self.context_length.setValue(settings.context_length)
        form.addRow("Context length (tokens)", self.context_length)
        self.gpu_layers = _int(-1, 999, "automatic")
        self.gpu_layers.setValue(settings.gpu_layers)
        self.gpu_layers.setToolTip("Layers on the GPU (Metal on Apple silicon); 0 = CPU only")
        form.addRow("GPU layers", self.gpu_layers)
        self.theme = QComboBox()
        for name, label in THEMES.items():
            self.theme.addItem(label, name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        form.addRow("Theme", self.theme)
        self.font_size = _int(0, 32, "system")
        self.font_size.setValue(settings.font_size)
        form.addRow("Font size", self.font_size)
        return tab

    # -- results ---------------------------------------------------------------------------

    def generation(self) -> GenerationSettings:
        return GenerationSettings(
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=self.seed.value(),
        ).validated()

    def app_changes(self, settings: Settings, model_id: str) -> dict[str, Any]:
        """The app-wide settings as the dialog shows them, for the settings owner to apply."""
        changes: dict[str, Any] = {
            "threads": self.threads.value(),
            "context_length": self.context_length.value(),
            "gpu_layers": self.gpu_layers.value(),
            "theme": self.theme.currentData(),
            "font_size": self.font_size.value(),
            **self.local_api.changes(),
        }
        if self.save_as_default.isChecked() and model_id:
            changes["model_defaults"] = {
                **settings.model_defaults,
                model_id: asdict(self.generation()),
            }
        return changes
