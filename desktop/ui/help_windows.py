"""The Help menu's windows: About (the versions a bug report needs and where the data lives) and
Keyboard shortcuts (every key of the window, read from its menus, so the list cannot go stale).

Both are non-modal and answer nothing: each is opened with ``show()`` and closes with Close or
Esc. Their text can be selected, and About copies all of it at once for a bug report.
"""

from __future__ import annotations

import platform
from typing import TypeVar

import PySide6
from PySide6.QtCore import QSize, Qt, qVersion
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from conversion import llama_log
from desktop import APP_NAME, __version__
from desktop.core import paths
from desktop.ui import dialogs
from desktop.ui.open_path import open_path
from desktop.ui.screen_fit import keep_fitted

_D = TypeVar("_D", bound=QDialog)

# Keys that belong to a box rather than to a menu item (so no menu lists them).
TYPING_KEYS = (
    ("Message box", "Send the message", "Enter"),
    ("Message box", "Start a new line", "Shift+Enter"),
    ("Message box", "Edit the last question (box empty)", "Up"),
    ("Chats", "Clear the search", "Esc"),
    ("Anywhere", "Move to the next / previous control", "Tab / Shift+Tab"),
    ("Anywhere", "Open the menu bar", "Alt / F10"),
)


def about_details() -> list[tuple[str, str]]:
    """What About shows, label and value, in order (the lines a bug report copies)."""
    return [
        (APP_NAME, __version__),
        ("llama.cpp", llama_log.llama_cpp_version()),
        ("llama.cpp uses", llama_log.llama_cpp_features() or "no optional CPU features"),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Python", platform.python_version()),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Data folder", str(paths.data_dir())),
        ("Log folder", str(paths.log_dir())),
    ]


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        self.details = about_details()
        title = QLabel(f"<b>{APP_NAME} {__version__}</b>", self)
        title.setObjectName("aboutTitle")
        blurb = QLabel(
            "A private, offline, Alpaca-style assistant. Models run on this computer with "
            "llama.cpp; nothing you type leaves it.",
            self,
        )
        blurb.setWordWrap(True)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.values: dict[str, QLabel] = {}
        for label, value in self.details[1:]:
            shown = QLabel(value, self)
            shown.setWordWrap(True)  # a long path or feature list wraps rather than widening
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[label] = shown
            form.addRow(f"{label}:", shown)

        self.copy_button = QPushButton("&Copy details", self)
        self.copy_button.setObjectName("aboutCopy")
        self.copy_button.setToolTip("Copy these lines, to paste into a bug report")
        self.copy_button.clicked.connect(self.copy_details)
        self.folder_button = QPushButton("Open the &data folder", self)
        self.folder_button.setObjectName("aboutDataFolder")
        self.folder_button.clicked.connect(lambda: open_path(self, paths.data_dir()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addLayout(form)
        layout.addLayout(row)
        self.setMinimumWidth(min(520, self.fontMetrics().averageCharWidth() * 60))

    def copy_details(self) -> None:
        text = "\n".join(f"{label}: {value}" for label, value in self.details)
        QGuiApplication.clipboard().setText(text)
        self.copy_button.setText("Copied")


def shortcut_rows(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(where, what, keys) for every menu item with a shortcut, then the boxes' own keys."""
    rows: list[tuple[str, str, str]] = []
    for entry in bar.actions():
        menu = entry.menu()
        if not isinstance(menu, QMenu):
            continue
        where = entry.text().replace("&", "")
        for action in menu.actions():
            keys = action.shortcut()
            if action.isSeparator() or keys.isEmpty():
                continue
            what = action.text().replace("&", "").replace("…", "")
            rows.append((where, what, keys.toString(QKeySequence.SequenceFormat.NativeText)))
    return rows + list(TYPING_KEYS)


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut, with a filter: type "copy" or "ctrl+r"."""

    def __init__(self, bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.filter = QLineEdit(self)
        self.filter.setObjectName("shortcutsFilter")
        self.filter.setPlaceholderText("Filter: an action or a key")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for where, what, keys in shortcut_rows(bar):
            row = self.table.rowCount()
            self.table.insertRow(row)
            for column, text in enumerate((where, what, keys)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def sizeHint(self) -> QSize:  # room for the longest rows, in the current font
        metrics = self.fontMetrics()
        return QSize(metrics.averageCharWidth() * 70, metrics.lineSpacing() * 28)

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.table.rowCount()):
            cells = (self.table.item(row, c) for c in range(3))
            line = " ".join(cell.text().lower() for cell in cells if cell is not None)
            self.table.setRowHidden(row, not all(word in line for word in words))


def show_about(parent: QWidget) -> AboutDialog:
    return _show(AboutDialog(parent))


def show_shortcuts(bar: QMenuBar) -> ShortcutsDialog:
    return _show(ShortcutsDialog(bar, bar.window()))


def _show(dialog: _D) -> _D:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    keep_fitted(dialog)
    return dialogs.present(dialog)
