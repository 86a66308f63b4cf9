"""Settings → Local API → Requests: what other programs asked of the local API, newest first —
when, from where, which model, how many tokens, how long it took and how it ended.

It reads the server's :class:`~desktop.server.request_log.RequestLog` through the callable it
is given (the log lives with the running server; nothing when it is off) and looks again every
second while it is on screen, so a request made meanwhile shows up without reopening Settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.server.request_log import LoggedRequest

COLUMNS = ["Time", "Client", "Model", "Tokens", "Duration", "Status"]
REFRESH_MS = 1000
OUTCOMES = {
    "stop": "answered",
    "length": "answered (length limit)",
    "cancelled": "stopped (the client left)",
    "error": "failed",
}


def _when(started: float) -> str:
    moment = time.localtime(started)
    today = time.localtime()
    same_day = moment[:3] == today[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _row(entry: LoggedRequest) -> list[str]:
    return [
        _when(entry.started),
        entry.client,
        entry.model or "—",
        f"{entry.prompt_tokens:,} in · {entry.completion_tokens:,} out",
        _duration(entry.seconds),
        OUTCOMES.get(entry.outcome, entry.outcome) + (f": {entry.detail}" if entry.detail else ""),
    ]


class RequestLogView(QGroupBox):
    def __init__(
        self, entries: Callable[[], list[LoggedRequest]], parent: QWidget | None = None
    ) -> None:
        super().__init__("Requests", parent)
        self.setObjectName("requestLog")
        self.entries = entries
        self._shown: list[LoggedRequest] = []
        self.empty = QLabel("No requests yet: they are listed here as programs use the API.")
        self.empty.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("requestLogTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(90)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        self.timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        entries = list(reversed(self.entries()))  # newest first
        if entries == self._shown:
            return
        self._shown = entries
        self.empty.setVisible(not entries)
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            for column, text in enumerate(_row(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{entry.endpoint}: {text}")
                self.table.setItem(row, column, item)
