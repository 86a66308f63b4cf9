"""The dialog that adds an OpenAI-compatible endpoint as a side: its server's URL and the model
name, and optionally its API key. The key is found as data generation finds it: the
``OPENAI_API_KEY`` environment variable, else the keychain entry for that server; a key typed
here is stored in the keychain for that server (``secrets.ApiKeys``), never in the settings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import ApiKeyError
from desktop.core import secrets
from desktop.ui.screen_fit import keep_fitted

KEY_ENV = "OPENAI_API_KEY"


class EndpointDialog(QDialog):
    """Asks for a server and a model; ``on_chosen(base_url, model)`` once they are valid."""

    def __init__(self, parent: QWidget, on_chosen: Callable[[str, str], None]) -> None:
        super().__init__(parent)
        self.setObjectName("endpointDialog")
        self.setWindowTitle("Add an OpenAI-compatible endpoint")
        self.on_chosen = on_chosen
        self.url = QLineEdit(self)
        self.url.setObjectName("endpointUrl")
        self.url.setPlaceholderText("http://localhost:8080/v1")
        self.model = QLineEdit(self)
        self.model.setObjectName("endpointModel")
        self.model.setPlaceholderText("the model's name on that server")
        self.key = QLineEdit(self)
        self.key.setObjectName("endpointKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(f"optional: from ${KEY_ENV} or the keychain")
        form = QFormLayout()
        form.addRow("Server URL", self.url)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        explain = QLabel(
            "A model served elsewhere (a bigger model, llama.cpp's server, Ollama, or any "
            "OpenAI-compatible API) answers the instructions, greedily, as a side. Its key is "
            f"read from ${KEY_ENV}, else from the keychain; a key typed here is stored in the "
            "keychain for this server.",
            self,
        )
        explain.setWordWrap(True)
        self.message = QLabel(self)
        self.message.setObjectName("endpointMessage")
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        add = buttons.button(QDialogButtonBox.StandardButton.Ok)
        add.setText("Add")
        add.setObjectName("addEndpoint")
        buttons.accepted.connect(self._on_add)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(explain)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        keep_fitted(self)

    def _on_add(self) -> None:
        url = self.url.text().strip().rstrip("/")
        model = self.model.text().strip()
        if not url.startswith(("http://", "https://")):
            self.message.setText("Give the server's URL, starting with http:// or https://.")
            self.url.setFocus()
            return
        if not model:
            self.message.setText("Give the model's name on that server.")
            self.model.setFocus()
            return
        key = self.key.text().strip()
        if key:
            try:
                secrets.ApiKeys().set(url, key)
            except ApiKeyError as exc:
                self.message.setText(str(exc))
                return
        self.accept()
        self.on_chosen(url, model)


def ask_endpoint(parent: QWidget, on_chosen: Callable[[str, str], None]) -> EndpointDialog:
    """Open the dialog without blocking (``open``, as every question of the window)."""
    dialog = EndpointDialog(parent, on_chosen)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
