"""The teacher's other data actions on the Data step: records grounded in the person's own
documents (``core/studio/grounded.py``), scoring the answers (``core/studio/scoring.py``) and
dropping the worst — asked, confirmed, and undoable until the next change. They run through the
generate panel's background runner, so one progress bar and one Stop serve every teacher job."""

from __future__ import annotations

import re
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from conversion.errors import Cancelled, HuacayaError, StudioError
from conversion.progress import CancelToken, Progress
from desktop.core.documents.store import DocumentStore
from desktop.core.studio.grounded import GroundedResult, generate_from_documents
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.scoring import score_records
from desktop.ui.dialogs import ask_item, ask_text, confirm
from desktop.ui.errors import show_error
from desktop.ui.studio.generate_panel import GeneratePanel
from desktop.ui.studio.records_table import RecordsModel

Key = tuple[str, str, str]


def _key(record: StudioRecord) -> Key:
    return (record.instruction, record.input, record.output)


def worst_count(answer: str, scored: int) -> int:
    """How many records "N" or "N%" (of the ``scored`` ones) means; raises StudioError."""
    text = answer.strip().replace(" ", "")
    match = re.fullmatch(r"(\d+(?:[.,]\d+)?)(%?)", text)
    if match is None:
        raise StudioError(
            f"“{answer.strip()}” is not a number of records or a percentage.",
            "Type a number such as 5, or a percentage such as 10%.",
        )
    value = float(match.group(1).replace(",", "."))
    count = round(scored * value / 100) if match.group(2) else int(value)
    if match.group(2) and value > 100:
        raise StudioError(
            "A share of the records is at most 100%.",
            "Type a percentage up to 100%, or a number of records.",
        )
    return min(count, scored)


class TeacherActions(QWidget):
    def __init__(
        self, panel: GeneratePanel, model: RecordsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.model = model
        self.documents = QPushButton("From my documents…", self)
        self.documents.setToolTip(
            "Records grounded in passages of a document collection (Documents → Collections); "
            "each keeps its file, page and passage as its source."
        )
        self.documents.clicked.connect(self.ask_collection)
        self.score = QPushButton("Score answers", self)
        self.score.setToolTip(
            "The teacher rates every answer (its own confidence, or a 1–10 judgement from a "
            "server); sort by Score to read the worst first."
        )
        self.score.clicked.connect(self.score_all)
        self.drop = QPushButton("Drop the worst…", self)
        self.drop.setToolTip("Delete the records with the lowest scores (Undo brings them back)")
        self.drop.clicked.connect(self.ask_drop)
        layout = QVBoxLayout(self)  # one a row: the column stays narrow
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.documents, self.score, self.drop):
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        panel.busy.connect(self._on_busy)

    def _on_busy(self, busy: bool) -> None:
        for button in (self.documents, self.score, self.drop):
            button.setEnabled(not busy)

    # -- from my documents ------------------------------------------------------------------------

    def ask_collection(self) -> None:
        try:
            store = DocumentStore()
            try:
                names = [c.name for c in store.collections()]
            finally:
                store.close()
        except HuacayaError as exc:
            show_error(self, exc)
            return
        if not names:
            show_error(
                self,
                StudioError(
                    "There is no document collection yet.",
                    "Make one in Documents → Collections…, let it index, then come back.",
                ),
            )
            return
        ask_item(
            self,
            "From my documents",
            f"Write {self.panel.count.value():,} records from the passages of:",
            names,
            self.from_documents,
            name="collectionDialog",
        )

    def from_documents(self, collection: str) -> None:
        chosen = self.panel._teacher_spec()
        if chosen is None or self.panel.running:
            return
        spec, base_url = chosen
        count = self.panel.count.value()
        kept: list[StudioRecord] = []

        def keep(records: list[StudioRecord]) -> None:
            kept[:] = records

        def work(progress: Progress, cancel: CancelToken) -> GroundedResult:
            try:
                return generate_from_documents(
                    collection,
                    spec,
                    count,
                    base_url=base_url,
                    progress=progress,
                    cancel=cancel,
                    on_batch=keep,
                    background=True,  # the window's chat keeps its pace
                )
            except Cancelled:  # what was finished is the person's
                return GroundedResult(records=list(kept), note="Stopped.")

        project = self.panel.project
        self.panel.run(work, lambda result: self._grounded(project, result))

    def _grounded(self, project: StudioProject | None, result: GroundedResult) -> None:
        self.panel.generated.emit(project, result.records, None)
        dropped = sum(result.dropped.values())
        reasons = ", ".join(
            f"{r} {n:,}" for r, n in sorted(result.dropped.items(), key=lambda i: -i[1]) if n
        )
        text = f"Added {len(result.records):,} records from your documents"
        text += f" (dropped {dropped:,}: {reasons})." if dropped else "."
        if result.note:
            text += f" {result.note}"
        self.panel.finished(text)

    # -- scores -----------------------------------------------------------------------------------

    def score_all(self) -> None:
        records = [r for r in self.model.records() if r.output.strip()]
        if not records:
            show_error(self, StudioError("There are no answers to score yet.", ""))
            return
        chosen = self.panel._teacher_spec()
        if chosen is None or self.panel.running:
            return
        spec, base_url = chosen

        def work(progress: Progress, cancel: CancelToken) -> list[StudioRecord]:
            return score_records(
                records, spec, base_url=base_url, progress=progress, cancel=cancel, background=True
            )

        project = self.panel.project
        self.panel.run(work, lambda scored: self._scored(project, scored))

    def _scored(self, project: StudioProject | None, scored: list[StudioRecord]) -> None:
        """Scores onto the records as they are now (the person may have edited meanwhile: an
        edited answer keeps no score of the old one)."""
        shown = self.panel.project
        if project is None or shown is None or project.folder != shown.folder:  # another one shown
            self.panel.finished("The scores were for another project: score again there.")
            return
        scores = {_key(r): r.score for r in scored}
        now = self.model.records()
        updated = [replace(r, score=scores[_key(r)]) if _key(r) in scores else r for r in now]
        count = sum(1 for r in scored if r.score is not None)
        if updated != now:
            self.model.set_all(updated, "scores")
        note = str(getattr(scored, "note", "") or "")
        self.panel.finished(
            f"Scored {count:,} answers (higher is better): click the Score heading to sort."
            + (f" Scores: {note}." if note else "")
        )

    def ask_drop(self) -> None:
        scored = [r for r in self.model.records() if r.score is not None]
        if not scored:
            show_error(
                self,
                StudioError("No record has a score yet.", "Click “Score answers” first."),
            )
            return
        ask_text(
            self,
            "Drop the worst",
            f"How many of the {len(scored):,} scored records (a number, or a percentage)?",
            "10%",
            self._confirm_drop,
            name="dropWorstDialog",
        )

    def _confirm_drop(self, answer: str) -> None:
        records = self.model.records()
        scored = sorted(
            (i for i, r in enumerate(records) if r.score is not None),
            key=lambda i: records[i].score,  # type: ignore[arg-type, return-value]  # not None
        )
        try:
            count = worst_count(answer, len(scored))
        except StudioError as exc:
            show_error(self, exc)
            return
        if count < 1:
            return
        worst = scored[:count]
        cut = records[worst[-1]].score
        confirm(
            self,
            "Drop the worst",
            f"Delete the {count:,} records with the lowest scores (up to {cut:.3g})?",
            lambda: self._drop(worst, count),
            "Undo (Ctrl+Z) brings them back until the next change.",
            name="dropWorstConfirm",
        )

    def _drop(self, rows: list[int], count: int) -> None:
        self.model.remove_rows(rows, f"drop the worst {count:,}")
        self.panel.message.emit(f"Dropped the {count:,} worst records. Undo brings them back.")
