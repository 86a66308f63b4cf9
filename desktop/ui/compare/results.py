"""The results page: wins, losses and ties per side, the win rate with its 95% interval, the
names revealed; export of the votes."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from desktop.core.evaluation.stats import Tally
from desktop.core.evaluation.votes import VoteSession
from desktop.ui import dialogs
from desktop.ui.errors import show_error

COLUMNS = ("Side", "Wins", "Losses", "Ties", "of which both bad", "Win rate", "95% interval")


def _row(tally: Tally) -> list[str]:
    low, high = tally.interval
    return [
        tally.name,
        str(tally.wins),
        str(tally.losses),
        str(tally.ties),
        str(tally.both_bad),
        f"{tally.win_rate:.1%}" if tally.total else "—",
        f"{low:.1%} – {high:.1%}" if tally.total else "—",
    ]


class ResultsPage(QWidget):
    back_requested = Signal()
    new_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: VoteSession | None = None
        self.summary = QLabel(self)
        self.summary.setObjectName("resultsSummary")
        self.summary.setWordWrap(True)
        self.table = QTextBrowser(self)
        self.table.setObjectName("resultsTable")
        self.back = QPushButton("Back to voting", self)
        self.back.setObjectName("backToVoting")
        self.back.clicked.connect(self.back_requested)
        export_csv = QPushButton("Export CSV…", self)
        export_csv.setObjectName("exportCsv")
        export_csv.clicked.connect(lambda: self._export(".csv"))
        export_json = QPushButton("Export JSON…", self)
        export_json.setObjectName("exportJson")
        export_json.clicked.connect(lambda: self._export(".json"))
        new = QPushButton("New comparison", self)
        new.setObjectName("newComparison")
        new.clicked.connect(self.new_requested)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        for button in (export_csv, export_json, new):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

    def show_session(self, session: VoteSession) -> None:
        self.session = session
        results = session.results()
        state = "Every item has a vote." if session.finished else "Voting is not finished."
        self.summary.setText(
            f"{state} {results.voted} of {results.total} items voted; the sides are revealed. "
            "The win rate counts a tie (or both bad) as half a win."
        )
        cells = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in _row(t)) + "</tr>"
            for t in (results.first, results.second)
        )
        self.table.setHtml(
            f"<table cellpadding='6' cellspacing='0' border='1'><tr>{cells}</tr>{rows}</table>"
        )
        self.back.setEnabled(not session.finished)

    def _export(self, suffix: str) -> None:
        session = self.session
        if session is None:
            return
        start = Path.home() / (session.path.stem + suffix)
        kind = "CSV files (*.csv)" if suffix == ".csv" else "JSON files (*.json)"

        def write(path: Path) -> None:
            if path.suffix.lower() != suffix:
                path = path.with_suffix(suffix)
            try:
                session.export(path)
            except OSError as exc:
                show_error(self, exc)
                return
            self.summary.setText(f"Wrote {len(session.votes)} votes to {path}.")

        dialogs.save_file(self, "Export the votes", write, kind, start)
