"""Every chat out at once (File → Export all chats…) and chats back in (File → Import chats…,
the sidebar's Import…): what is written, checked and skipped is ``core/history/all_chats.py``'s;
this module asks where, shows progress with a Cancel button, and says what happened.

The work runs as a background task on a connection of its own (``run_in_background``), so the
window keeps drawing; the dialog is window-modal meanwhile, so nothing changes the chats under
an import. An import of one chat shows no result (the chat simply opens), and no dialog at
all when it ends quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from conversion.progress import CancelToken, Progress
from desktop.core.hardware import release_freed_memory
from desktop.core.history import all_chats
from desktop.core.history.all_chats import ImportReport
from desktop.core.history.store import History
from desktop.ui import dialogs
from desktop.ui.background.tasks import Task, run_in_background
from desktop.ui.errors import show_error
from desktop.ui.open_path import open_path
from desktop.ui.screen_fit import fit_to_screen, keep_fitted

SHOW_AFTER_MS = 400  # an import that ends sooner shows no dialog
WIDTH_CHARACTERS = 52  # the dialog is at least this many average characters wide


class TransferDialog(QDialog):
    """Export all chats: the format, then progress with Cancel, then the result. An import
    uses the progress and result parts only."""

    def __init__(self, parent: QWidget, title: str, exporting: bool) -> None:
        super().__init__(parent)
        self.setObjectName("chatsTransferDialog")
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.intro.setVisible(exporting)
        layout.addWidget(self.intro)
        self.as_json = QRadioButton("One JSON file — Huacaya can import it again", self)
        self.as_markdown = QRadioButton("A folder of Markdown files, one per chat — to read", self)
        self.formats = QButtonGroup(self)
        for button in (self.as_json, self.as_markdown):
            self.formats.addButton(button)
            button.setVisible(exporting)
            layout.addWidget(button)
        self.as_json.setChecked(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.status = QLabel(self)
        self.status.setObjectName("transferStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.location = QLineEdit(self)
        self.location.setObjectName("transferLocation")
        self.location.setReadOnly(True)
        self.location.hide()
        layout.addWidget(self.location)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.show_folder = QPushButton("Show in folder", self)
        self.show_folder.hide()
        self.start = QPushButton("Export…", self)
        self.start.setDefault(True)
        self.start.setVisible(exporting)
        self.stop = QPushButton("Cancel", self)
        for push in (self.show_folder, self.start, self.stop):
            buttons.addWidget(push)
        layout.addLayout(buttons)
        self.task: Task | None = None
        self.stop.clicked.connect(self._stop)

    def running(self, text: str) -> None:
        for button in (self.as_json, self.as_markdown, self.start):
            button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText(text)
        self.stop.setText("Cancel")
        self._grow()

    def step(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(message)

    def sizeHint(self) -> QSize:  # room for a result line without squeezing it
        hint = super().sizeHint()
        return hint.expandedTo(QSize(self.fontMetrics().averageCharWidth() * WIDTH_CHARACTERS, 0))

    def finished_with(
        self, text: str, folder: Path | None = None, written: Path | None = None
    ) -> None:
        self.task = None
        self.progress.setValue(1000)
        self.status.setText(text)
        if written is not None:  # the whole path, to read or copy (a label cannot wrap it)
            self.location.setText(str(written))
            self.location.setCursorPosition(0)
            self.location.show()
        self.stop.setText("Close")
        self.stop.setDefault(True)
        self.start.hide()
        if folder is not None:
            self.show_folder.show()
            self.show_folder.clicked.connect(lambda: open_path(self, folder))
        if not self.isVisible():
            keep_fitted(self)
            self.open()
        else:
            self._grow()

    def _grow(self) -> None:
        """Taller now (a progress bar, the path, a wrapped line): grown to fit, never squeezed."""
        layout = self.layout()
        if self.isVisible() and layout is not None:
            layout.activate()
            needed = QSize(self.width(), layout.totalHeightForWidth(self.width()))
            fit_to_screen(self, self.size().expandedTo(needed))

    def _stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.stop.setEnabled(False)
            self.status.setText("Stopping…")
        else:
            self.reject()

    def reject(self) -> None:  # Esc or the close button: cancel what runs, close once stopped
        if self.task is not None and self.task.running:
            self._stop()
        else:
            super().reject()


class ChatTransfers(QObject):
    """Export all chats and import chats, for the window. ``imported`` carries the
    :class:`ImportReport` (the window lists the chats, and opens the one of a single-chat file);
    ``notice`` a line for the status bar; ``running`` is True while one runs (``importing``
    says which)."""

    imported = Signal(object)
    notice = Signal(str)
    running = Signal(bool)

    def __init__(self, history: History, parent: QWidget) -> None:
        super().__init__(parent)
        self.history = history
        self.parent_widget = parent
        self.busy = self.importing = False

    # -- export ----------------------------------------------------------------------------

    def export_all(self) -> TransferDialog:
        """The Export all chats dialog: JSON or Markdown, then where."""
        dialog = TransferDialog(self.parent_widget, "Export all chats", exporting=True)
        count = len(self.history.list(limit=-1))
        dialog.intro.setText(
            f"Save your {all_chats.chats_count(count)} (deleted chats are left out) as:"
            if count
            else "There are no chats to export yet."
        )
        dialog.start.setEnabled(count > 0)
        dialog.start.clicked.connect(lambda: self._ask_where(dialog))
        keep_fitted(dialog)
        dialog.open()
        return dialog

    def _ask_where(self, dialog: TransferDialog) -> None:
        today = date.today().isoformat()
        if dialog.as_json.isChecked():
            dialogs.save_file(
                dialog,
                "Export all chats",
                lambda path: self._export(dialog, path, markdown=False),
                "JSON (*.json)",
                Path.home() / f"huacaya-chats-{today}.json",
            )
        else:
            dialogs.choose_folder(
                dialog,
                "Folder for the Markdown files",
                lambda folder: self._export_markdown(dialog, folder),
            )

    def _export_markdown(self, dialog: TransferDialog, folder: Path) -> None:
        if not all_chats.folder_has_files(folder):
            self._export(dialog, folder, markdown=True)
            return
        dialogs.confirm(
            dialog,
            "Folder not empty",
            f"“{folder.name}” already has files in it. Put the chats there anyway?",
            lambda: self._export(dialog, folder, markdown=True, replace_files=True),
            "Files with the same names as the chats and index.md are replaced; other files "
            "are left as they are. Choose No to pick an empty or new folder.",
            "folderNotEmptyDialog",
        )

    def _export(
        self, dialog: TransferDialog, path: Path, markdown: bool, replace_files: bool = False
    ) -> None:
        history_path = self.history.path

        def work(progress: Progress, cancel: CancelToken) -> int:
            history = History(history_path)
            try:
                if markdown:
                    return all_chats.export_all_markdown(
                        history, path, replace_files=replace_files, progress=progress, cancel=cancel
                    )
                return all_chats.export_all_json(history, path, progress, cancel)
            finally:
                history.close()

        def done(count: int) -> None:
            where = f"the folder “{path.name}”" if markdown else f"“{path.name}”"
            text = f"Exported {all_chats.chats_count(count)} to {where}:"
            dialog.finished_with(text, path if markdown else path.parent, path)

        dialog.running(f"Exporting to “{path.name}”…")
        dialog.task = self._run(
            work, done, dialog, "Export cancelled: nothing was written.", "Export"
        )

    # -- import ----------------------------------------------------------------------------

    def choose_import(self) -> None:
        dialogs.open_file(
            self.parent_widget, "Import chats", self.import_from, "Huacaya chats (*.json)"
        )

    def import_from(self, path: Path) -> None:
        """Import ``path`` (an all-chats or a single-chat export) off the GUI thread."""
        history_path = self.history.path
        dialog = TransferDialog(self.parent_widget, "Import chats", exporting=False)
        dialog.running(f"Importing “{path.name}”…")
        shown = QTimer(dialog)
        shown.setSingleShot(True)
        shown.timeout.connect(lambda: self._show(dialog))
        shown.start(SHOW_AFTER_MS)

        def work(progress: Progress, cancel: CancelToken) -> ImportReport:
            history = History(history_path)
            try:
                return all_chats.import_chats(history, path, progress, cancel)
            finally:
                history.close()

        def done(report: ImportReport) -> None:
            shown.stop()
            release_freed_memory()  # what parsing and indexing a large export took
            self.imported.emit(report)
            if len(report.chats) == 1:  # the chat opens: that says it all
                self.notice.emit(report.summary)
                dialog.close()
            else:
                dialog.finished_with(report.summary)

        self.importing = True
        dialog.task = self._run(
            work, done, dialog, "Import cancelled: nothing was imported.", "Import"
        )

    # -- both ------------------------------------------------------------------------------

    @staticmethod
    def _show(dialog: TransferDialog) -> None:
        keep_fitted(dialog)
        dialog.open()

    def _run(
        self,
        work: Callable[[Progress, CancelToken], object],
        done: Callable[..., None],
        dialog: TransferDialog,
        cancelled: str,
        what: str,
    ) -> Task:
        self._set_busy(True)

        def ended(callback: Callable[[], None]) -> None:
            self._set_busy(False)
            callback()

        def failed(exc: BaseException) -> None:
            dialog.close()
            show_error(self.parent_widget, exc, f"{what} failed")

        def stopped() -> None:
            dialog.close()
            self.notice.emit(cancelled)

        return run_in_background(
            work,
            lambda result: ended(lambda: done(result)),
            lambda exc: ended(lambda: failed(exc)),
            on_progress=dialog.step,
            on_cancelled=lambda: ended(stopped),
            owner=self,  # the window: closing it stops the work
        )

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.importing = self.importing and busy
        self.running.emit(busy)
