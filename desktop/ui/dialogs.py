"""Small questions to the user that never block the window: a file or folder, a line of text,
one of a few choices, a yes/no confirmation; and bringing a window already made to the front.

Each dialog is opened with ``open()`` (window-modal, no nested event loop), so an answer that
finishes or a job that reports progress meanwhile is handled as usual; the reply arrives through
a callback. Native file dialogs are used where the platform has them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

W = TypeVar("W", bound=QWidget)

FIELD_CHARACTERS = 48  # a text field is at least this many average characters wide


def _dialog(
    parent: QWidget,
    caption: str,
    start: Path,
    name_filter: str,
    on_chosen: Callable[[Path], None],
) -> QFileDialog:
    dialog = QFileDialog(parent, caption, str(start), name_filter)
    dialog.setObjectName("fileDialog")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.fileSelected.connect(lambda name: on_chosen(Path(name)) if name else None)
    return dialog


def open_file(
    parent: QWidget,
    caption: str,
    on_chosen: Callable[[Path], None],
    name_filter: str = "",
    start: Path | None = None,
) -> QFileDialog:
    dialog = _dialog(parent, caption, start or Path.home(), name_filter, on_chosen)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    dialog.open()
    return dialog


def save_file(
    parent: QWidget,
    caption: str,
    on_chosen: Callable[[Path], None],
    name_filter: str = "",
    start: Path | None = None,
) -> QFileDialog:
    dialog = _dialog(parent, caption, start or Path.home(), name_filter, on_chosen)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    if start is not None and start.suffix:
        dialog.setDefaultSuffix(start.suffix.lstrip("."))
    dialog.open()
    return dialog


def choose_folder(
    parent: QWidget, caption: str, on_chosen: Callable[[Path], None], start: Path | None = None
) -> QFileDialog:
    dialog = _dialog(parent, caption, start or Path.home(), "", on_chosen)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dialog.open()
    return dialog


def ask_text(
    parent: QWidget,
    title: str,
    label: str,
    value: str,
    on_text: Callable[[str], None],
    name: str = "textDialog",
) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(value)
    _widen_field(dialog, value)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.textValueSelected.connect(on_text)
    dialog.open()
    return dialog


def _widen_field(dialog: QInputDialog, value: str) -> None:
    """Room for the whole value (a long chat title), in the dialog's font, within the screen.

    The dialog's own minimum width does not hold: QInputDialog's layout sets it to what the
    layout needs, so the text field is widened instead."""
    field = dialog.findChild(QLineEdit)
    if field is None:
        return
    metrics = field.fontMetrics()
    wanted = max(
        metrics.averageCharWidth() * FIELD_CHARACTERS, metrics.horizontalAdvance(value) + 24
    )
    screen = (dialog.parentWidget() or dialog).screen()  # where it opens
    if screen is not None:  # the field, the dialog's margins and a window frame fit
        wanted = min(wanted, screen.availableGeometry().width() * 9 // 10 - 60)
    field.setMinimumWidth(wanted)


def ask_item(
    parent: QWidget,
    title: str,
    label: str,
    items: list[str],
    on_item: Callable[[str], None],
    name: str = "itemDialog",
    editable: bool = False,
) -> QInputDialog:
    """One of ``items``, or (``editable``) any text typed over them."""
    dialog = QInputDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setComboBoxItems(items)
    dialog.setComboBoxEditable(editable)
    dialog.setMinimumWidth(420)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.textValueSelected.connect(on_item)
    dialog.open()
    return dialog


def confirm(
    parent: QWidget,
    title: str,
    text: str,
    on_yes: Callable[[], None],
    detail: str = "",
    name: str = "confirmDialog",
) -> QMessageBox:
    """A yes/no question whose default (Enter) is No: confirming must be deliberate."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setObjectName(name)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    if detail:
        box.setInformativeText(detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.finished.connect(
        lambda result: on_yes() if result == QMessageBox.StandardButton.Yes else None
    )
    box.open()
    return box


def inform(parent: QWidget, text: str, title: str = "Huacaya") -> QMessageBox:
    """A notice the user should read (not an error), window-modal and non-blocking."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok)
    box.setParent(parent, box.windowFlags())
    box.setObjectName("noticeDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def present(window: W) -> W:
    """Show ``window`` (a window kept open between uses, or a new one) in front, with the
    keyboard focus."""
    window.show()
    window.raise_()
    window.activateWindow()
    return window
