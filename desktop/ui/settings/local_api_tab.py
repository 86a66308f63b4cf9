"""Settings → Local API: the switch, the port, whether other computers may use it, how many
requests it answers at once, and the address and key to give to other programs (each with a
Copy button)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop.core import secrets
from desktop.core.settings import Settings
from desktop.ui.settings.local_api import address

MAX_PARALLEL = 16


def _copy_row(field: QLineEdit, name: str) -> tuple[QWidget, QPushButton]:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    field.setReadOnly(True)
    layout.addWidget(field, 1)
    button = QPushButton("Copy")
    button.setObjectName(name)
    button.setAutoDefault(False)
    button.clicked.connect(lambda: QGuiApplication.clipboard().setText(field.text()))
    layout.addWidget(button)
    return row, button


class LocalApiTab(QWidget):
    def __init__(self, settings: Settings, status: str) -> None:
        super().__init__()
        self.setObjectName("localApiTab")
        form = QFormLayout(self)
        intro = QLabel(
            "Let other programs on this computer (editors, scripts, agents) use your models "
            "through an OpenAI-compatible API. It is off until you turn it on."
        )
        intro.setWordWrap(True)
        form.addRow(intro)
        self.switch = QCheckBox("Serve the local API")
        self.switch.setObjectName("localApiSwitch")
        self.switch.setChecked(settings.local_api_enabled)
        form.addRow("", self.switch)
        self.port = QSpinBox()
        self.port.setObjectName("localApiPort")
        self.port.setRange(1024, 65535)
        self.port.setValue(settings.local_api_port)
        form.addRow("Port", self.port)
        self.network = QCheckBox("Let other computers on my network use it (they need the key)")
        self.network.setObjectName("localApiNetwork")
        self.network.setChecked(settings.local_api_network)
        form.addRow("", self.network)
        self.parallel = QSpinBox()
        self.parallel.setObjectName("localApiParallel")
        self.parallel.setRange(1, MAX_PARALLEL)
        self.parallel.setValue(min(max(settings.local_api_parallel, 1), MAX_PARALLEL))
        self.parallel.setSuffix(" at once")
        self.parallel.setToolTip(
            "Requests answered together; more wait their turn. Together they take little more "
            "time per word than one alone, but each needs memory for its own context. "
            "A change restarts the API: answers in progress are cut short."
        )
        form.addRow("Answers", self.parallel)
        self.address = QLineEdit()
        self.address.setObjectName("localApiAddress")
        row, self.copy_address = _copy_row(self.address, "copyApiAddress")
        form.addRow("Address", row)
        self.key = QLineEdit()
        self.key.setObjectName("localApiKey")
        self.key_row, self.copy_key = _copy_row(self.key, "copyApiKey")
        form.addRow("API key", self.key_row)
        self.key_label = form.labelForField(self.key_row)
        self.usage = QLabel()
        self.usage.setWordWrap(True)
        self.usage.setObjectName("localApiUsage")
        form.addRow(self.usage)
        self.status = QLabel(status)
        self.status.setObjectName("localApiStatus")
        self.status.setWordWrap(True)
        form.addRow("Status", self.status)
        self.port.valueChanged.connect(self._show)
        self.network.toggled.connect(self._show)
        self._show()

    def _show(self) -> None:
        self.address.setText(address(self.port.value()))
        network = self.network.isChecked()
        if network and not self.key.text():
            self.key.setText(secrets.local_api_key())
            self.key.setCursorPosition(0)
        self.key_row.setVisible(network)
        if self.key_label is not None:
            self.key_label.setVisible(network)
        key = "any text (no key is needed on this computer)"
        if network:
            key = "the key below" + (
                ""
                if secrets.keychain_available()
                else " (no keychain was found: a new key is made each time Huacaya starts)"
            )
        self.usage.setText(
            f"In an OpenAI client, set the base URL to the address above and the API key to "
            f"{key}. Models are named as in your library (“GET /v1/models” lists them)."
            + (
                " Other computers use this computer's network address instead of 127.0.0.1."
                if network
                else ""
            )
        )

    def changes(self) -> dict[str, object]:
        return {
            "local_api_enabled": self.switch.isChecked(),
            "local_api_port": self.port.value(),
            "local_api_network": self.network.isChecked(),
            "local_api_parallel": self.parallel.value(),
        }
