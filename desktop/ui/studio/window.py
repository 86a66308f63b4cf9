"""The "Make your own" window: a project chooser above four steps (Data, Train, Compare, Use).

Each step is its own widget, given the project and narrow parts of the app; the work is the
core's (``desktop/core/studio``) and the commands' own functions."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from conversion.errors import HuacayaError
from desktop.core.studio.project import StudioProject, create_project, scan_projects
from desktop.ui import dialogs
from desktop.ui.errors import show_error
from desktop.ui.screen_fit import keep_fitted
from desktop.ui.studio.compare_step import CompareStep
from desktop.ui.studio.data_step import DataStep
from desktop.ui.studio.parts import StudioParts
from desktop.ui.studio.train_step import TrainStep
from desktop.ui.studio.use_step import UseStep


class StudioWindow(QDialog):
    export_ended = Signal()  # an export into the library ended, whatever its outcome

    def __init__(self, parts: StudioParts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A window of its own, not a dialog kept above the main window: "Chat with it" brings
        # the chat forward, and this one stays open behind it (``_show_chat``).
        self.setWindowFlags(Qt.WindowType.Window)
        self.setWindowTitle("Make your own model")
        self.parts = parts
        self.projects = QComboBox(self)
        self.projects.setObjectName("studioProject")
        self.projects.setAccessibleName("Project")
        self.projects.setMinimumContentsLength(16)
        self.projects.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.projects.activated.connect(self._on_chosen)
        self.new_project = QPushButton("New project…", self)
        self.new_project.clicked.connect(self.ask_new_project)
        row = QHBoxLayout()
        row.addWidget(QLabel("Project:", self))
        row.addWidget(self.projects, 1)
        row.addWidget(self.new_project)
        self.damaged = QLabel(self)  # projects that could not be read: said, never hidden
        self.damaged.setObjectName("damagedProjects")
        self.damaged.setWordWrap(True)
        self.damaged.hide()
        self.data = DataStep(parts, self)
        self.train = TrainStep(parts, self)
        self.compare = CompareStep(parts, self)
        self.use = UseStep(parts, self)
        self.use.chat_opened.connect(self._show_chat)
        for panel in (self.compare.panel, self.use.panel):
            panel.ended.connect(self.export_ended)
        self.steps = QTabWidget(self)
        self.steps.setObjectName("studioSteps")
        for number, (step, title) in enumerate(
            (
                (self.data, "Data"),
                (self.train, "Train"),
                (self.compare, "Compare"),
                (self.use, "Use"),
            ),
            start=1,
        ):
            self.steps.addTab(step, f"{number}  {title}")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.damaged)
        layout.addWidget(self.steps, 1)
        self.project: StudioProject | None = None
        self._fill(self._scan())
        keep_fitted(self, QSize(980, 680))

    def showEvent(self, event: QShowEvent) -> None:
        """Qt makes a window with a parent transient for the parent's window, which window
        managers (and Windows, which calls it owned) keep above that parent: the chat the Use
        step opens would stay hidden behind this window. The main window still owns this one
        (it closes with the app); only the stacking tie goes."""
        handle = self.windowHandle()
        if handle is not None and handle.transientParent() is not None:
            # None clears it, as Qt documents; PySide6's stubs accept only a QWindow
            handle.setTransientParent(None)  # type: ignore[arg-type]
        super().showEvent(event)

    @property
    def exporting(self) -> bool:
        return any(panel.busy for panel in (self.compare.panel, self.use.panel))

    def stop_exports(self) -> None:
        """Ask running exports to stop; ``export_ended`` follows once each has cleaned up."""
        for panel in (self.compare.panel, self.use.panel):
            panel.stop()

    def shutdown(self) -> None:
        """The app is quitting: exports stopped and cleaned up, what was typed saved, and this
        window closed with the main one (training runs belong to the app: ``TrainingRuns``)."""
        for panel in (self.compare.panel, self.use.panel):
            panel.shutdown()
        self.data.save_now()
        self.close()

    def _show_chat(self) -> None:
        """The main window, where the model was just chosen, in front and with the keyboard."""
        main = self.parentWidget()
        if main is not None:
            dialogs.present(main.window())

    # -- projects -------------------------------------------------------------------------------

    def _fill(self, projects: list[StudioProject], current: StudioProject | None = None) -> None:
        self._projects = projects
        self.projects.clear()
        for project in projects:
            self.projects.addItem(project.name, str(project.folder))
        if not projects:
            self.projects.addItem("No project yet: click “New project…”", "")
        chosen = current or (projects[0] if projects else None)
        if chosen is not None:
            self.projects.setCurrentIndex(self.projects.findData(str(chosen.folder)))
        self._show(chosen)

    def _scan(self) -> list[StudioProject]:
        projects, damaged = scan_projects()
        # One short line (the window stays usable on a small screen); why, in full, on hover.
        names = [f"“{d.folder.name}”" for d in damaged]
        if len(names) == 1:
            text = (
                f"{names[0]} is not listed: its project.json cannot be read (point here for why)."
            )
        else:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            text = (
                f"{shown} are not listed: their project.json cannot be read (point here for why)."
            )
        self.damaged.setText(text if damaged else "")
        self.damaged.setToolTip("\n\n".join(f"{d.error.message} {d.error.hint}" for d in damaged))
        self.damaged.setVisible(bool(damaged))
        return projects

    def _on_chosen(self, index: int) -> None:
        folder = self.projects.itemData(index)
        self._show(next((p for p in self._projects if str(p.folder) == folder), None))

    def ask_new_project(self) -> QInputDialog:
        """Ask for the new project's name (without blocking: the answer arrives by signal)."""
        ask = QInputDialog(self)
        ask.setObjectName("newProjectName")
        ask.setWindowTitle("New project")
        ask.setLabelText("Name of your model (for example “Cooking assistant”):")
        ask.textValueSelected.connect(self._create)
        ask.finished.connect(ask.deleteLater)
        ask.open()
        return ask

    def _create(self, name: str) -> None:
        try:
            project = create_project(name)
        except HuacayaError as exc:
            show_error(self, exc)
            return
        self._fill(self._scan(), project)

    def _show(self, project: StudioProject | None) -> None:
        self.project = project
        self.steps.setEnabled(project is not None)
        for step in (self.data, self.train, self.compare, self.use):
            step.set_project(project)
