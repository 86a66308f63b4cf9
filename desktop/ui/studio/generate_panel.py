"""Generate records with a teacher from Stanford-style seed tasks: the same runner as
``huacaya-generate-data`` (``desktop.core.studio.seed_generation``), as a background task with
progress (records kept, candidates dropped by reason) and Stop. The run's output folder is in the
project, so a stopped run continues where it stopped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from conversion.progress import CancelToken, Progress
from conversion.selfinstruct.seeds import load_seed_tasks
from desktop.core.evaluation.published import STANFORD_SEED_TASKS, fetch
from desktop.core.models.library import resolve_model
from desktop.core.studio.project import StudioProject
from desktop.core.studio.seed_generation import (
    SeedGenerationResult,
    adopt_seed_tasks,
    generate_from_seed_tasks,
    keep_taken,
    open_teacher,
    project_seed_tasks,
    status_line,
)
from desktop.core.studio.teacher import in_the_window
from desktop.ui.background.tasks import Task, Work, run_in_background
from desktop.ui.dialogs import open_file
from desktop.ui.errors import show_error
from desktop.ui.studio.parts import StudioParts
from desktop.ui.studio.teacher_choice import TeacherChoice

DEFAULT_COUNT = 20
BUSY_STEPS = 1000


class GeneratePanel(QWidget):
    # (the project they were made for, the new StudioRecords, a callable to call once they are
    # kept — in the table or the project's file — or None): appended to its records
    generated = Signal(object, object, object)
    message = Signal(str)  # what happened, for the step's status line
    busy = Signal(bool)  # a teacher's job started (True) or ended (False)

    def __init__(
        self, parts: StudioParts, teacher: TeacherChoice, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.parts = parts
        self.teacher = teacher
        self.project: StudioProject | None = None
        self.task: Task | None = None
        self.seeds = QLabel(self)
        self.seeds.setObjectName("seedTasks")
        self.seeds.setWordWrap(True)
        self.choose_seeds = QPushButton("Seed tasks…", self)
        self.choose_seeds.setToolTip(
            "A JSON Lines file of example tasks the teacher imitates, like Stanford's "
            "seed_tasks.jsonl (one object per line: instruction, input, output)."
        )
        self.choose_seeds.clicked.connect(self._ask_seeds)
        self.stanford = QPushButton("Stanford's 175", self)
        self.stanford.setObjectName("stanfordSeeds")
        self.stanford.setToolTip(
            "Download the 175 seed tasks Stanford Alpaca's data started from (110 KB, once; "
            "released for research use)."
        )
        self.stanford.clicked.connect(self._download_stanford)
        self.count = QSpinBox(self)
        self.count.setObjectName("generateCount")
        self.count.setAccessibleName("Records to generate")
        self.count.setRange(1, 100_000)
        self.count.setValue(DEFAULT_COUNT)
        self.count.setSuffix(" records")
        self.start = QPushButton("Generate", self)
        self.start.setToolTip("Ask the teacher for new tasks like the seed tasks, with answers")
        self.start.setObjectName("generateButton")
        self.start.clicked.connect(self._start)
        self.stop = QPushButton("Stop", self)
        self.stop.setObjectName("stopGenerating")
        self.stop.setVisible(False)
        self.stop.clicked.connect(self._on_stop)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("generateProgress")
        self.bar.setRange(0, BUSY_STEPS)
        self.bar.setVisible(False)
        self.status = QLabel(self)
        self.status.setObjectName("generateStatus")
        self.status.setWordWrap(True)
        # One thing a row, so the column stays narrow on a small screen or with a large font.
        seeds_row = QHBoxLayout()
        seeds_row.addWidget(self.choose_seeds)
        seeds_row.addStretch(1)
        stanford_row = QHBoxLayout()
        stanford_row.addWidget(self.stanford)
        stanford_row.addStretch(1)
        count_row = QVBoxLayout()
        count_row.addWidget(QLabel("How many:", self))
        count_row.addWidget(self.count)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.stop)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.seeds)
        layout.addLayout(seeds_row)
        layout.addLayout(stanford_row)
        layout.addLayout(count_row)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)

    def set_project(self, project: StudioProject | None) -> None:
        if self.task is not None:
            self.task.cancel()  # its records stay in the run's folder: handed over next time
        self.project = project
        self._show_seeds()

    def _show_seeds(self) -> None:
        path = project_seed_tasks(self.project) if self.project is not None else None
        if path is None or not path.is_file():
            self.seeds.setText(
                "Seed tasks: none yet. Download Stanford's 175, or choose a file of example tasks."
            )
            return
        try:
            count = len(load_seed_tasks(path))
        except HuacayaError as exc:
            self.seeds.setText(f"Seed tasks: {exc.message}")
            return
        self.seeds.setText(f"Seed tasks: {count:,} examples ({path.name})")

    def _ask_seeds(self) -> None:
        open_file(
            self,
            "Seed tasks (JSON Lines)",
            self._adopt,
            "Seed tasks (*.jsonl *.json);;All files (*)",
        )

    def _adopt(self, path: Path, project: StudioProject | None = None) -> None:
        project = project or self.project
        if project is None:
            return
        try:
            adopt_seed_tasks(project, path)
        except (HuacayaError, OSError) as exc:
            show_error(self, exc)
            return
        self._show_seeds()

    def _download_stanford(self) -> None:
        project = self.project
        if project is None or self.task is not None:
            return
        if self.parts.offline():
            self.message.emit(
                "Offline mode is on: choose a seed tasks file, or turn Offline mode off "
                "(Models menu) to download Stanford's 175."
            )
            return

        def work(progress: Progress, cancel: CancelToken) -> Path:
            return fetch(STANFORD_SEED_TASKS, progress, cancel)

        def done(path: Path) -> None:
            self._adopt(path, project)
            self.finished(f"Seed tasks: Stanford's {len(load_seed_tasks(path))} are ready.")

        self.run(work, done)

    # -- runs -----------------------------------------------------------------------------------

    def _teacher_spec(self) -> tuple[str, str] | None:
        try:
            return self.teacher.spec()
        except HuacayaError as exc:
            show_error(self, exc)
            return None

    def _start(self) -> None:
        project = self.project
        if project is None or self.task is not None:
            return
        chosen = self._teacher_spec()
        if chosen is None:
            return
        spec, base_url = chosen
        if not project_seed_tasks(project).is_file():
            self._ask_seeds()
            return
        key = self.teacher.api_key(base_url) if base_url else None
        library = self.parts.library
        count = self.count.value()

        def work(progress: Progress, cancel: CancelToken) -> SeedGenerationResult:
            progress(0.0, "Loading the teacher…")
            teacher = open_teacher(
                spec,
                base_url=base_url,
                api_key=key,
                resolve_model=lambda name: resolve_model(name, library),
                background=True,  # the window's chat keeps its pace
            )
            try:
                return generate_from_seed_tasks(  # taken once they are in the table
                    project, teacher, count, progress=progress, cancel=cancel, commit=False
                )
            finally:
                teacher.close()

        self.run(work, lambda result: self._done(project, result))

    def run(self, work: Work, on_success: Callable[[Any], None]) -> None:
        """Run one of the teacher's jobs in the background, with this panel's progress and
        Stop (one at a time)."""
        self._running(True)
        self.status.setText("Starting…")
        self.task = run_in_background(
            work,
            on_success,
            self._failed,
            on_progress=self._progress,
            on_cancelled=lambda: self._ended("Stopped."),
            owner=self,
        )

    def _on_stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.stop.setEnabled(False)
            self.status.setText("Stopping after the replies being written…")

    def _progress(self, fraction: float, message: str) -> None:
        if fraction <= 0:
            self.bar.setRange(0, 0)  # busy: the teacher is working on its first records
        else:
            self.bar.setRange(0, BUSY_STEPS)
            self.bar.setValue(round(fraction * BUSY_STEPS))
        self.status.setText(message[:1].upper() + message[1:])

    def _done(self, project: StudioProject, result: SeedGenerationResult) -> None:
        self.task = None
        self.generated.emit(project, result.records, lambda: self._keep(result))
        line = status_line(len(result.records), self.count.value(), result.dropped)
        if result.stopped:
            text = (
                f"Stopped: {len(result.records):,} finished records added. “Generate” "
                "continues the same run."
            )
        else:
            text = f"Added {len(result.records):,} records from seed tasks ({line})."
        self._ended(text)

    def _keep(self, result: SeedGenerationResult) -> None:
        """The records are kept: the next run hands over only newer ones. (Until then, as when
        the app quit mid-run and no window got them, they are handed over again.)"""
        try:
            keep_taken(result)
        except OSError as exc:  # handed over again next time: duplicates, never losses
            show_error(self, exc)

    def _failed(self, exc: BaseException) -> None:
        self._ended("It stopped with an error; what was finished is kept.")
        show_error(self, in_the_window(exc))

    def finished(self, text: str) -> None:
        """A job's success handler says what it did (and the panel is ready again)."""
        self._ended(text)

    def _ended(self, text: str) -> None:
        self.task = None
        self._running(False)
        self.status.setText("")  # the line under the table says it, seen from every tab
        self.message.emit(text)

    def _running(self, running: bool) -> None:
        self.start.setVisible(not running)
        self.stop.setVisible(running)
        self.stop.setEnabled(running)
        self.bar.setVisible(running)
        self.bar.setRange(0, 0)
        self.choose_seeds.setEnabled(not running)
        self.stanford.setEnabled(not running)
        self.count.setEnabled(not running)
        self.teacher.setEnabled(not running)
        self.busy.emit(running)

    @property
    def running(self) -> bool:
        return self.task is not None
