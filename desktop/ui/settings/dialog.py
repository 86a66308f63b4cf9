"""Settings: this chat's system prompt, prompt format and sampling; the app's threads, context
length, GPU layers, theme and font size; the local API. "Reset" goes back to the model's
defaults, "Use as default for this model" makes them so for new chats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core import hardware
from desktop.core.chat.presets import Preset, shown_name
from desktop.core.chat.prompts import FORMAT_CHOICES
from desktop.core.chat.session import ChatSession
from desktop.core.settings import (
    SAMPLING,
    GenerationSettings,
    SamplingOption,
    Settings,
    SettingsStore,
)
from desktop.server.request_log import LoggedRequest
from desktop.ui.errors import show_error
from desktop.ui.screen_fit import keep_fitted
from desktop.ui.settings.local_api_tab import LocalApiTab
from desktop.ui.settings.request_log_view import RequestLogView

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


def _sampling_box(option: SamplingOption) -> QSpinBox | QDoubleSpinBox:
    """A spin box that keeps to the option's range (one past it cannot be typed)."""
    if option.whole:
        box: QSpinBox | QDoubleSpinBox = _int(int(option.low), int(option.high), option.at_low)
        box.setSingleStep(int(option.step))
    else:
        box = _double(option.low, option.high, option.step, option.decimals)
    box.setToolTip(option.help)
    return box


class _ScrollingPage(QScrollArea):
    """A page in a scroll area: on a small screen or at a large font the dialog stays on the
    screen and the page scrolls up and down, instead of squeezing its rows (a wrapped line cut
    in half). It asks for its page's whole size (QScrollArea's own hint is capped), and never
    for less than its page's width."""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(page)
        self.page = page

    def _bar(self) -> int:
        return self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)

    def sizeHint(self) -> QSize:
        return self.page.sizeHint() + QSize(self._bar(), 0)

    def minimumSizeHint(self) -> QSize:
        lines = self.fontMetrics().lineSpacing() * 6
        return QSize(self.page.minimumSizeHint().width() + self._bar(), lines)


def _scrolling(page: QWidget) -> QScrollArea:
    return _ScrollingPage(page)


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
        api_requests: Callable[[], list[LoggedRequest]] = list,
        presets: Sequence[Preset] = (),
        preset: str = "",
        preset_changed: bool = False,
    ) -> None:
        """``api_requests``: what the local API was asked (its request log), read while shown;
        ``presets``: those offered for this chat, ``preset``: the one it uses ("": none)."""
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.model_defaults = model_defaults
        self.presets = {p.name: p for p in presets}
        self.preset_name = preset if preset in self.presets else ""
        self.preset_changed = preset_changed
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("settingsTabs")
        page = self._chat_tab(system_prompt, prompt_format, generation)
        self.tabs.addTab(_scrolling(page), "This chat")
        self.tabs.addTab(_scrolling(self._app_tab(settings)), "App")
        self.local_api = LocalApiTab(settings, local_api_status)
        self.request_log = RequestLogView(api_requests)
        api_page = QWidget()
        api_page.setObjectName("localApiPage")
        api_layout = QVBoxLayout(api_page)
        api_layout.setContentsMargins(0, 0, 0, 0)
        api_layout.addWidget(self.local_api)
        api_layout.addWidget(self.request_log, 1)
        self.tabs.addTab(_scrolling(api_page), "Local API")
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
        keep_fitted(self)  # within the screen, at every font size

    def _chat_tab(
        self, system_prompt: str, prompt_format: str, generation: GenerationSettings
    ) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.preset = QComboBox()
        self.preset.setObjectName("settingsPreset")
        self.preset.setToolTip("Fills in the system prompt and the sampling values below")
        if not self.preset_name:
            self.preset.addItem("No preset", "")
        for name, preset in self.presets.items():
            changed = self.preset_changed and name == self.preset_name
            self.preset.addItem(shown_name(name, changed), name)
            self.preset.setItemData(
                self.preset.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole
            )
        self.preset.setCurrentIndex(max(0, self.preset.findData(self.preset_name)))
        self.preset.activated.connect(lambda index: self._show_preset(self.preset.itemData(index)))
        if self.presets:
            form.addRow("Preset", self.preset)
        self.system_prompt = QPlainTextEdit(system_prompt)
        self.system_prompt.setPlaceholderText("Optional: how the assistant should behave")
        self.system_prompt.setMaximumHeight(90)
        form.addRow("System prompt", self.system_prompt)
        self.prompt_format = QComboBox()
        for name in FORMAT_CHOICES:
            self.prompt_format.addItem(FORMAT_LABELS.get(name, name), name)
        self.prompt_format.setCurrentIndex(max(0, self.prompt_format.findData(prompt_format)))
        form.addRow("Prompt format", self.prompt_format)
        # one spin box per sampling option, by its name in GenerationSettings
        self.sampling = {name: _sampling_box(option) for name, option in SAMPLING.items()}
        for name, box in self.sampling.items():
            form.addRow(SAMPLING[name].label, box)
        self._show_generation(generation)
        reset = QPushButton("Reset to the model's defaults")
        reset.setAutoDefault(False)  # Enter anywhere in the dialog means OK, never Reset
        reset.clicked.connect(lambda: self._show_generation(self.model_defaults))
        form.addRow("", reset)
        self.save_as_default = QCheckBox("Use these as the default for new chats with this model")
        form.addRow("", self.save_as_default)
        return tab

    def _show_preset(self, name: str) -> None:
        preset = self.presets.get(name)
        if preset is not None:
            self.system_prompt.setPlainText(preset.system_prompt)
            self._show_generation(preset.generation(self.model_defaults))

    def chosen_preset(self) -> str:
        """The preset picked here ("": none)."""
        return str(self.preset.currentData() or "")

    def _show_generation(self, generation: GenerationSettings) -> None:
        for name, box in self.sampling.items():
            box.setValue(getattr(generation, name))

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
        values: dict[str, Any] = {name: box.value() for name, box in self.sampling.items()}
        return GenerationSettings(**values).validated()

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


def open_settings(
    parent: QWidget,
    store: SettingsStore,
    session: ChatSession,
    model_id: str,
    model_defaults: GenerationSettings,
    local_api_status: str,
    api_requests: Callable[[], list[LoggedRequest]] = list,
    presets: Sequence[Preset] = (),
) -> SettingsDialog:
    """Open Settings for ``session`` (its own sampling) and the app; OK applies both: the
    session's to the session, the app's through the settings' one owner."""
    dialog = SettingsDialog(
        parent,
        store.settings,
        session.system_prompt,
        session.prompt_format,
        session.generation,
        model_defaults,
        local_api_status,
        api_requests,
        presets,
        session.preset,
        any(p.name == session.preset and session.preset_changed(p) for p in presets),
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def apply() -> None:
        session.configure(
            system_prompt=dialog.system_prompt.toPlainText(),
            prompt_format=dialog.prompt_format.currentData(),
            generation=dialog.generation(),
            preset=dialog.chosen_preset(),
        )
        try:
            store.update(**dialog.app_changes(store.settings, model_id))
        except HuacayaError as exc:
            show_error(parent, exc)

    dialog.accepted.connect(apply)
    dialog.open()
    return dialog
