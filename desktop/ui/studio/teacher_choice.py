"""Which model writes (and scores) the project's data: an installed model, or a model behind an
OpenAI-compatible server. Chosen once per project (kept in ``project.json``), shared by every
data action of the step. A key typed here goes to the keychain for that server
(``secrets.ApiKeys``), as in the Compare window; generation finds it there as the command does.

When the chosen model is too small to teach (the 135M starter), it says so plainly and names a
better one: installed, or to download (once online)."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from conversion.errors import ApiKeyError, DataGenerationError, HuacayaError
from desktop.core import secrets
from desktop.core.models.catalog import GOOD_TEACHER, teacher_grade
from desktop.core.models.teachers import better_installed, download_suggestion
from desktop.core.studio.project import StudioProject
from desktop.ui.errors import show_error
from desktop.ui.studio.parts import StudioParts

ENDPOINT = "openai"
KEY_ENV = "OPENAI_API_KEY"
SEPARATOR = " @ "  # between model and URL in project.json's "teacher"


def _size(parameters: int) -> str:
    return f"{parameters / 1e9:.1f}B" if parameters >= 1e9 else f"{parameters / 1e6:.0f}M"


class TeacherChoice(QWidget):
    chosen = Signal()

    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        self.project: StudioProject | None = None
        self.models = QComboBox(self)
        self.models.setObjectName("studioTeacher")
        self.models.setAccessibleName("Teacher")
        self.models.setMinimumContentsLength(10)
        self.models.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.models.activated.connect(self._on_changed)
        self.url = QLineEdit(self)
        self.url.setObjectName("teacherUrl")
        self.url.setAccessibleName("Server URL")
        self.url.setPlaceholderText("http://localhost:8080/v1")
        self.model = QLineEdit(self)
        self.model.setObjectName("teacherModel")
        self.model.setAccessibleName("Model on the server")
        self.model.setPlaceholderText("the model's name on that server")
        self.key = QLineEdit(self)
        self.key.setObjectName("teacherKey")
        self.key.setAccessibleName("API key")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(f"optional: from ${KEY_ENV} or the keychain")
        for edit in (self.url, self.model):
            edit.editingFinished.connect(self._remember)
        self.advice = QLabel(self)
        self.advice.setObjectName("teacherAdvice")
        self.advice.setWordWrap(True)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.addRow("Teacher", self.models)
        self.form.addRow("Server URL", self.url)
        self.form.addRow("Model", self.model)
        self.form.addRow("API key", self.key)
        self.form.addRow(self.advice)
        self.fill()

    # -- the choices ------------------------------------------------------------------------------

    def fill(self) -> None:
        current = self.models.currentData()
        self.models.clear()
        for entry in self.parts.library.entries():
            size = _size(entry.parameter_count) if entry.parameter_count else ""
            size = f" ({size})" if size and size not in entry.name else ""
            self.models.addItem(f"{entry.name}{size}", f"gguf:{entry.id}")
        self.models.addItem("A model on an OpenAI-compatible server", ENDPOINT)
        if current is not None and self.models.findData(current) >= 0:
            self.models.setCurrentIndex(self.models.findData(current))
        self._show_fields()

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
        saved = project.info.teacher if project is not None else ""
        if saved.startswith("openai:"):
            model, _, url = saved.removeprefix("openai:").partition(SEPARATOR)
            self.models.setCurrentIndex(self.models.findData(ENDPOINT))
            self.model.setText(model)
            self.url.setText(url)
        elif saved and self.models.findData(saved) >= 0:
            self.models.setCurrentIndex(self.models.findData(saved))
        self._show_fields()

    def _on_changed(self) -> None:
        self._show_fields()
        self._remember()
        self.chosen.emit()

    def _show_fields(self) -> None:
        endpoint = self.models.currentData() == ENDPOINT
        for edit in (self.url, self.model, self.key):
            self.form.setRowVisible(edit, endpoint)
        self.advice.setText("" if endpoint else self._advice())
        self.advice.setVisible(bool(self.advice.text()))

    def _remember(self) -> None:
        if self.project is None:
            return
        data = self.models.currentData()
        if data == ENDPOINT:
            data = f"openai:{self.model.text().strip()}{SEPARATOR}{self.url.text().strip()}"
        if data and data != self.project.info.teacher:
            try:
                self.project.update(teacher=data)
            except HuacayaError as exc:  # project.json cannot be written: said, not raised
                show_error(self, exc)

    # -- what the data actions use ----------------------------------------------------------------

    def spec(self) -> tuple[str, str]:
        """(teacher spec, base URL): ``gguf:ID`` and "", or ``openai:MODEL`` and its server.
        Raises :class:`DataGenerationError` saying what is missing; stores a typed key."""
        data = self.models.currentData()
        if data != ENDPOINT:
            if not data:
                raise DataGenerationError("Choose a teacher first.")
            return str(data), ""
        url = self.url.text().strip().rstrip("/")
        model = self.model.text().strip()
        if not url.startswith(("http://", "https://")):
            raise DataGenerationError(
                "The teacher's server needs a URL starting with http:// or https://.",
                "For example http://localhost:8080/v1 (llama.cpp's server) or Ollama's "
                "http://localhost:11434/v1.",
            )
        if not model:
            raise DataGenerationError("Give the model's name on that server.")
        key = self.key.text().strip()
        if key:
            try:
                secrets.ApiKeys().set(url, key)
            except ApiKeyError as exc:
                raise DataGenerationError(exc.message, exc.hint) from exc
            self.key.clear()
        self._remember()
        return f"openai:{model}", url

    @staticmethod
    def api_key(base_url: str) -> str | None:
        return os.environ.get(KEY_ENV) or secrets.ApiKeys().get(base_url)

    def _advice(self) -> str:
        data = str(self.models.currentData() or "")
        entry = next((e for e in self.parts.library.entries() if f"gguf:{e.id}" == data), None)
        if entry is None or teacher_grade(entry.parameter_count) != "poor":
            return ""
        lines = [
            f"{entry.name} is small ({_size(entry.parameter_count)} parameters) for a teacher: "
            "expect few records, many of them wrong (the starter kept 2 of 29 in 13 minutes on "
            "a laptop). Use it to try the steps; teachers from "
            f"{GOOD_TEACHER / 1e9:g}B parameters write data worth training on."
        ]
        better = better_installed(self.parts.library, entry.parameter_count)
        if better:
            lines.append(f"Installed and better: {better[0].name}.")
        else:
            download = download_suggestion()
            if download is not None:
                how = (
                    "Once you are online, download"
                    if self.parts.offline()
                    else "Download (Models → Manage models…)"
                )
                lines.append(
                    f"{how} {download.name} ({download.params_b:g}B, "
                    f"{download.download_gb:g} GB), or use a model on a server."
                )
        return " ".join(lines)
