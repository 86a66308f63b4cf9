"""The app's training runs: child processes polled by a timer (the fourth way of
``desktop/ui/background``: hours of native code that may crash, ended with its children on quit,
resumed at a later start), owned by the main window so a run outlives the studio window.

What a run *is* (its state, its figures) is read from its folder by ``core/studio/runs.py``;
this object only starts children (``core/studio/training.py`` prepares and launches them), reaps
them, ends them on quit and says when one ended."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from conversion.errors import StudioError
from conversion.ownership import kill_tree
from desktop.core.studio import runs, training
from desktop.core.studio.project import StudioProject

POLL_MS = 500


class TrainingRuns(QObject):
    ended = Signal(str)  # a run folder whose child process has just exited

    def __init__(
        self, offline: Callable[[], bool] = lambda: True, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.offline = offline
        self.processes: dict[Path, subprocess.Popen[bytes]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self, project: StudioProject, options: training.TrainOptions) -> Path:
        """A new run of ``project`` with ``options``, started now; its folder."""
        folder = training.prepare_run(project, options)
        self._launch(folder)
        return folder

    def measure(self, project: StudioProject, options: training.TrainOptions) -> Path:
        """One step of ``options``, to estimate the run's time and memory before it starts."""
        folder = project.runs_dir / runs.MEASURE
        old = self.processes.pop(folder, None)
        if old is not None and old.poll() is None:
            kill_tree(old.pid)
            old.wait(5)
        folder = training.prepare_measurement(project, options)
        self._launch(folder)
        return folder

    def resume(self, folder: Path) -> None:
        """Start a paused, interrupted or failed run again: it goes on from its last complete
        checkpoint (the same arguments, the same data)."""
        if folder in self.processes:
            return
        self._launch(folder)

    def pause(self, folder: Path) -> None:
        """Ask the run to stop at the end of its current step, saving a checkpoint."""
        training.request_stop(folder)

    def stop_now(self, folder: Path) -> None:
        """End the run's process at once (a step can take minutes); it resumes from its last
        checkpoint."""
        process = self.processes.get(folder)
        if process is None:
            return
        kill_tree(process.pid)
        process.wait(5)
        step = runs.last_checkpoint_step(folder)
        with contextlib.suppress(OSError):  # its folder was removed: nothing to resume
            training.write_outcome(
                folder,
                runs.PAUSED,
                f"Stopped; it resumes from step {step}."
                if step
                else "Stopped before a checkpoint.",
            )
        self._poll()

    def running(self, folder: Path) -> bool:
        process = self.processes.get(folder)
        return process is not None and process.poll() is None

    def shutdown(self) -> None:
        """The app is closing: end every run's processes now. Their folders keep the last
        checkpoint; the next start shows them as interrupted, with Resume."""
        self._timer.stop()
        for process in self.processes.values():
            if process.poll() is None:
                kill_tree(process.pid)
                process.wait(5)
        self.processes.clear()

    def _launch(self, folder: Path) -> None:
        if any(self.running(other) for other in self.processes if other != folder):
            # two trainings would share (and slow) the same cores or GPU, and its memory
            raise StudioError(
                "Another training run is going on.",
                "Pause it, or let it end, then start or resume this one.",
            )
        self.processes[folder] = training.launch(folder, self.offline())
        self._timer.start()

    def _poll(self) -> None:
        for folder, process in list(self.processes.items()):
            if process.poll() is None and not (folder / runs.LAUNCH_FILE).exists():
                # Its folder was removed (the run deleted by hand): a run no window lists
                # would train on unseen, holding the cores, with nothing to pause or stop.
                kill_tree(process.pid)
                process.wait(5)
                shutil.rmtree(folder, ignore_errors=True)  # what it wrote since: not a run
            if process.poll() is not None:  # reaped
                del self.processes[folder]
                training.record_exit(folder, process.returncode)  # a crash says so
                if folder.name == runs.MEASURE:
                    training.finish_measurement(folder)
                self.ended.emit(str(folder))
        if not self.processes:
            self._timer.stop()
