"""Show a file or folder in the application the system has for it (the log folder, a cited
document); where nothing opens it, say so in a dialog that shows its path, with a button that
copies the path."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.system_open import open_in_system
from desktop.ui.background.tasks import run_in_background
from desktop.ui.errors import show_error


def open_path(parent: QWidget, path: Path) -> None:
    """Open ``path`` off the GUI thread (the system's opener may take a moment); if nothing
    opened it, show :class:`PathDialog` over ``parent``."""
    run_in_background(
        lambda _progress, _cancel: open_in_system(path),
        lambda problem: PathDialog(parent, path, problem).open() if problem else None,
        lambda exc: show_error(parent, exc),
        owner=parent,
    )


class PathDialog(QDialog):
    """Why a file or folder did not open, and where it is, ready to copy."""

    def __init__(self, parent: QWidget, path: Path, problem: str) -> None:
        super().__init__(parent)
        self.setObjectName("pathDialog")
        self.setWindowTitle(f"Could not open {path.name or path}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        what = "folder" if path.is_dir() else "file"
        self.message = QLabel(f"{problem} Copy its path to open the {what} yourself:", self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.path = QLineEdit(str(path), self)
        self.path.setObjectName("pathField")
        self.path.setReadOnly(True)
        metrics = self.path.fontMetrics()
        wanted = metrics.horizontalAdvance(str(path)) + 24
        room = self.screen().availableGeometry().width() * 9 // 10 - 60
        self.path.setMinimumWidth(max(min(wanted, room), metrics.averageCharWidth() * 40))
        self.path.setCursorPosition(0)
        layout.addWidget(self.path)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy path", self)
        self.copy_button.setObjectName("copyPathButton")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self._copy)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.copy_button.setDefault(True)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.path.text())
        self.copy_button.setText("Copied")
