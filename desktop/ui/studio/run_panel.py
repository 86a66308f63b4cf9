"""One training run as the Train step shows it: its state, live loss curve, speed, time left,
memory, and Pause / Resume / Stop now. Everything shown comes from ``runs.read_run``."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from conversion.progress import duration_text
from desktop.core.studio import runs
from desktop.core.studio.runs import RunView
from desktop.ui.studio.loss_curve import LossCurve

STATE_WORDS = {
    runs.STARTING: "starting (loading the base model)",
    runs.RUNNING: "training",
    runs.STOPPING: "pausing at the end of this step…",
    runs.PAUSED: "paused",
    runs.INTERRUPTED: "interrupted (the app was closed or stopped during training)",
    runs.FINISHED: "finished",
    runs.FAILED: "failed",
}


def run_title(run: RunView) -> str:
    return f"Run {run.name} · {run.method}"


def figures(run: RunView) -> str:
    """The run's figures in one line: step, loss, tokens/s, time per step and left, memory."""
    parts = []
    if run.total_steps:
        parts.append(f"step {run.step} of {run.total_steps}")
    if run.losses:
        parts.append(f"loss {run.losses[-1][1]:.4f}")
    if run.tokens_per_second is not None:
        parts.append(f"{run.tokens_per_second:,.0f} tokens/s")
    if run.seconds_per_step is not None:
        parts.append(f"{run.seconds_per_step:.1f} s per step")
    left = run.seconds_left
    if run.live and left is not None:
        parts.append(f"about {duration_text(left, whole_minutes=True)} left")
    if run.peak_memory_gib is not None:
        parts.append(f"peak memory {run.peak_memory_gib:.1f} GB")
    return " · ".join(parts)


class RunPanel(QWidget):
    pause = Signal()
    resume = Signal()
    stop_now = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: RunView | None = None
        self.title = QLabel(self)
        self.title.setObjectName("runTitle")
        self.title.setWordWrap(True)
        self.state = QLabel(self)
        self.state.setObjectName("runState")
        self.state.setWordWrap(True)
        self.curve = LossCurve(self)
        self.figures = QLabel(self)
        self.figures.setObjectName("runFigures")
        self.figures.setWordWrap(True)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setToolTip("Stop at the end of this step, saving a checkpoint")
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.setToolTip("Go on from the last checkpoint")
        self.stop_button = QPushButton("Stop now", self)
        self.stop_button.setToolTip(
            "End the training at once, without waiting for the step; it can resume from its "
            "last checkpoint"
        )
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop_now)
        buttons = QHBoxLayout()
        for button in (self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.state)
        layout.addWidget(self.curve, 1)
        layout.addWidget(self.figures)
        layout.addLayout(buttons)
        self.show_run(None)

    def show_run(self, run: RunView | None, owned: bool = False) -> None:
        """``owned``: this app runs its process (Stop now can end it)."""
        self.run = run
        if run is None:
            self.title.setText("No training run yet.")
            self.state.setText("")
            self.figures.setText("")
            self.curve.set_points([], 0)
        else:
            self.title.setText(run_title(run))
            words = STATE_WORDS.get(run.state, run.state)
            if run.state == runs.FAILED:
                words = f"failed: {run.error} {run.hint}".strip()
            elif run.resumable and run.checkpoint_step:
                words += f" — Resume goes on from step {run.checkpoint_step}"
            elif run.resumable:
                words += " — no checkpoint yet: Resume starts it again"
            self.state.setText(f"State: {words}")
            self.figures.setText(figures(run))
            self.curve.set_points(run.losses, run.total_steps)
        live = run is not None and run.state in (runs.STARTING, runs.RUNNING)
        self.pause_button.setEnabled(live)
        self.resume_button.setEnabled(run is not None and run.resumable)
        self.stop_button.setEnabled(run is not None and run.live and owned)
