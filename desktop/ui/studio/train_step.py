"""The Train step of the "Make your own" window: the base model, LoRA or a full fine-tune, how
long, an estimate, Start; the current run (``run_panel.py``) and the project's runs
(``run_list.py``).

A run is ``huacaya-train`` in a child process (``core/studio/training.py``), kept by the app's
``TrainingRuns`` (it outlives this window); what is shown is read from the run's folder
(``core/studio/runs.py``) by a timer, so a window opened later, or after a restart, shows the
same."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core.models.library import ModelEntry
from desktop.core.studio import training, training_devices
from desktop.core.studio.project import StudioProject
from desktop.core.studio.records import (
    left_out,
    load_records,
    nothing_to_train,
    training_records,
)
from desktop.core.studio.runs import RunView, list_runs
from desktop.core.studio.training import TrainOptions
from desktop.core.studio.training_devices import TrainingDevices
from desktop.ui.background.tasks import run_in_background
from desktop.ui.errors import show_error
from desktop.ui.studio.parts import StudioParts
from desktop.ui.studio.run_list import RunList
from desktop.ui.studio.run_panel import RunPanel
from desktop.ui.studio.training_runs import TrainingRuns

REFRESH_MS = 1000
_devices: TrainingDevices | None = None  # what torch trains on: asked once per app


class TrainStep(QWidget):
    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts = parts
        # the app's runs (they outlive this window); a step used alone keeps its own
        self.runs: TrainingRuns = parts.training or TrainingRuns(parts.offline, self)
        self.project: StudioProject | None = None
        self.shown: Path | None = None  # the run in the panel
        # (the file and its stamp, records to train on, what is left out / why none)
        self._counted: tuple[tuple[Path, int] | None, int, str] = (None, 0, "")
        self._base_ids: list[str] = []
        self._build()
        self.runs.ended.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._ask_devices()

    # -- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.base = QComboBox(self)
        self.base.setAccessibleName("Base model")
        self.base.setMinimumContentsLength(12)
        self.base.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.base.activated.connect(self._base_chosen)
        self.lora = QRadioButton("LoRA", self)
        self.lora.setToolTip(
            "Train a small adapter beside the frozen base model: fast, and little memory"
        )
        self.full = QRadioButton("Full fine-tune", self)
        self.lora.setChecked(True)
        method = QButtonGroup(self)
        method.addButton(self.lora)
        method.addButton(self.full)
        self.full.toggled.connect(self._update_plan)
        methods = QHBoxLayout()
        methods.addWidget(self.lora)
        methods.addWidget(self.full)
        methods.addStretch(1)
        self.by_epochs = QRadioButton("Epochs", self)
        self.by_steps = QRadioButton("Steps", self)
        self.by_epochs.setChecked(True)
        self.epochs = QDoubleSpinBox(self)
        self.epochs.setAccessibleName("Epochs")
        self.epochs.setRange(0.1, 100)
        self.epochs.setDecimals(1)
        self.epochs.setValue(3)
        self.steps = QSpinBox(self)
        self.steps.setAccessibleName("Steps")
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(40)
        length_group = QButtonGroup(self)
        length_group.addButton(self.by_epochs)
        length_group.addButton(self.by_steps)
        length = QGridLayout()
        length.addWidget(self.by_epochs, 0, 0)
        length.addWidget(self.epochs, 0, 1)
        length.addWidget(self.by_steps, 1, 0)
        length.addWidget(self.steps, 1, 1)
        length.setColumnStretch(2, 1)
        self.max_length = QSpinBox(self)
        self.max_length.setAccessibleName("Longest example")
        self.max_length.setRange(32, 32768)
        self.max_length.setValue(512)
        self.max_length.setSuffix(" tokens")
        self.batch = QSpinBox(self)
        self.batch.setAccessibleName("Examples per step")
        self.batch.setRange(1, 4096)
        self.batch.setValue(128)
        self.save_steps = QSpinBox(self)
        self.save_steps.setAccessibleName("Checkpoint every")
        self.save_steps.setRange(1, 100_000)
        self.save_steps.setValue(10)
        self.save_steps.setSuffix(" steps")
        self.epochs.valueChanged.connect(self._update_plan)
        for spin in (self.steps, self.max_length, self.batch):
            spin.valueChanged.connect(self._update_plan)
        self.by_steps.toggled.connect(self._update_plan)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow: labels above
        form.addRow("Base model:", self.base)
        form.addRow("Method:", methods)
        form.addRow("How long:", length)
        form.addRow("Longest example:", self.max_length)
        form.addRow("Examples per step:", self.batch)
        form.addRow("Checkpoint every:", self.save_steps)
        self.plan = QLabel(self)
        self.plan.setObjectName("trainPlan")
        self.plan.setWordWrap(True)
        self.start_button = QPushButton("Start training", self)
        self.start_button.setObjectName("startTraining")
        self.start_button.clicked.connect(self.start)
        self.measure_button = QPushButton("Measure time", self)
        self.measure_button.setToolTip(
            "Train one step on these records with these settings, to tell how long the run "
            "will take and how much memory it needs"
        )
        self.measure_button.clicked.connect(self.measure)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_button)
        start_row.addWidget(self.measure_button)
        start_row.addStretch(1)
        self.panel = RunPanel(self)
        self.panel.pause.connect(self._pause)
        self.panel.resume.connect(self._resume)
        self.panel.stop_now.connect(self._stop_now)
        self.run_list = RunList(self)
        self.run_list.chosen.connect(self._run_chosen)
        settings = QWidget(self)
        left = QVBoxLayout(settings)
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(form)
        left.addWidget(self.plan)
        left.addLayout(start_row)
        left.addWidget(QLabel("This project's runs:", settings))
        left.addWidget(self.run_list, 1)
        scroll = QScrollArea(self)  # at large fonts on small screens the settings scroll
        scroll.setWidget(settings)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(scroll)
        split.addWidget(self.panel)
        # the settings first: at a large font in a small window the base model's name and the
        # plan need the room more than the curve does
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    # -- the project ----------------------------------------------------------------------------

    def set_project(self, project: StudioProject | None) -> None:
        self.project = project
        self.shown = None
        self._base_ids = []  # the project's own base is chosen again
        self.refresh()
        if project is None:
            self._timer.stop()
        else:
            self._timer.start()

    def _fill_bases(self) -> None:
        entries: list[ModelEntry] = self.parts.library.entries()
        ids = [e.id for e in entries]
        if ids == self._base_ids and self.base.count():
            return
        self._base_ids = ids
        self.base.clear()
        for entry in entries:
            self.base.addItem(entry.name, entry.id)
        chosen = self.project.info.base if self.project else ""
        index = next(
            (i for i, e in enumerate(entries) if chosen in (e.id, e.name)),
            next((i for i, e in enumerate(entries) if e.is_starter), 0),
        )
        if entries:
            self.base.setCurrentIndex(index)
        else:
            self.base.addItem("No model installed: add one in Models", "")

    def _base_chosen(self, index: int) -> None:
        if self.project is not None:
            try:
                self.project.update(base=str(self.base.itemData(index)))
            except HuacayaError as exc:
                show_error(self, exc)
        self._update_plan()

    def _entry(self) -> ModelEntry | None:
        model_id = self.base.currentData()
        return next((e for e in self.parts.library.entries() if e.id == model_id), None)

    def options(self) -> TrainOptions:
        return TrainOptions(
            base=str(self.base.currentData() or ""),
            full=self.full.isChecked(),
            epochs=self.epochs.value(),
            max_steps=self.steps.value() if self.by_steps.isChecked() else 0,
            max_length=self.max_length.value(),
            global_batch=self.batch.value(),
            save_steps=self.save_steps.value(),
        )

    # -- devices and the estimate ---------------------------------------------------------------

    def _ask_devices(self) -> None:
        if _devices is not None:
            self._devices_known(_devices)
            return
        self.full.setEnabled(False)
        run_in_background(
            lambda progress, cancel: training_devices.detect_devices(),
            self._devices_known,
            lambda error: self._devices_known(TrainingDevices()),
            owner=self,
        )

    def _devices_known(self, devices: TrainingDevices) -> None:
        global _devices
        _devices = devices
        self._update_plan()

    def _update_plan(self) -> None:
        self.epochs.setEnabled(self.by_epochs.isChecked())
        self.steps.setEnabled(self.by_steps.isChecked())
        entry = self._entry()
        parameters = entry.parameter_count if entry else 0
        devices = _devices
        full_ok = devices is not None and devices.full_fits(parameters)
        self.full.setEnabled(full_ok)
        self.full.setToolTip(
            ""
            if full_ok
            else "A full fine-tune needs a GPU with room for the weights, their "
            "gradients and the optimizer state; here LoRA trains the model."
        )
        if self.full.isChecked() and not full_ok:
            self.lora.setChecked(True)
        if self.project is None:
            self.plan.setText("")
            return
        try:
            records = self._record_count(self.project.records_path)
        except HuacayaError as exc:
            self.plan.setText(f"{exc.message} {exc.hint}".strip())
            self.start_button.setEnabled(False)
            self.measure_button.setEnabled(False)
            return
        options = self.options()
        steps = options.total_steps(records)
        lines = [f"{records} records to train on · {steps} steps"]
        if not records:  # why, and what to do, rather than “0 records”
            lines = [self._counted[2]]
        elif self._counted[2]:
            lines[0] = f"{records} records to train on ({self._counted[2]}) · {steps} steps"
        if devices is not None:
            if records:  # (else the line says why there is nothing to train on)
                lines[0] += f" · on {devices.describe()}"
            if records and not full_ok and not devices.missing:
                lines[0] += " (LoRA: a full fine-tune needs a large enough GPU)"
            if devices.missing:
                lines.append(
                    f"Training needs PyTorch and its companions ({devices.missing} is missing): "
                    "pip install 'huacaya[train]'."
                )
        if parameters and records:
            floor = training_devices.memory_floor_gib(parameters, options.full)
            lines.append(f"Memory: at least {floor:.1f} GB for the weights, plus activations.")
        if records:
            lines.append(training.estimate(self.project, options, steps))
        # one training at a time: two would share (and slow) the same cores or GPU
        busy = any(self.runs.running(folder) for folder in self.runs.processes)
        if busy:
            lines.append("A training run is going on: start the next one when it has ended.")
        can = bool(records) and not (devices and devices.missing) and bool(options.base)
        self.start_button.setEnabled(can and not busy)
        self.measure_button.setEnabled(can and not busy)
        self.plan.setText("\n".join(lines))

    def _record_count(self, path: Path) -> int:
        """The records to train on, read again only when the file changed."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = 0
        if self._counted[0] != (path, stamp):
            every = load_records(path)
            count, why = len(training_records(every)), left_out(every)
            if not count:
                problem = nothing_to_train(every)
                why = f"{problem.message} {problem.hint}"
            self._counted = ((path, stamp), count, why)
        return self._counted[1]

    # -- runs -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.project is None:
            return
        try:
            folder = self.runs.start(self.project, self.options())
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self.shown = folder
        self.refresh()

    def measure(self) -> None:
        if self.project is None:
            return
        try:
            self.runs.measure(self.project, self.options())
        except HuacayaError as exc:
            show_error(self, exc)
        self.refresh()

    def _pause(self) -> None:
        if self.shown is not None:
            try:
                self.runs.pause(self.shown)
            except HuacayaError as exc:
                show_error(self, exc)
            self.refresh()

    def _resume(self) -> None:
        if self.shown is not None:
            try:
                self.runs.resume(self.shown)
            except HuacayaError as exc:
                show_error(self, exc)
            self.refresh()

    def _stop_now(self) -> None:
        if self.shown is not None:
            self.runs.stop_now(self.shown)
            self.refresh()

    def _run_chosen(self, folder: str) -> None:
        self.shown = Path(folder)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self._fill_bases()  # the library changes on disk, whoever changes it
        runs: list[RunView] = list_runs(self.project) if self.project else []
        if all(r.folder != self.shown for r in runs):  # none yet, or its folder was removed
            self.shown = runs[0].folder if runs else None
        shown = next((r for r in runs if r.folder == self.shown), None)
        self.panel.show_run(shown, owned=shown is not None and self.runs.running(shown.folder))
        self.run_list.show_runs(runs, self.shown)
        self._update_plan()
